/* edgekit: CONV_2D, int8 activations, int8 per-channel filters, int32 bias. */
#include "ek_kernels.h"
#include "ek_conv_ref.h"

void ek_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                  const int32_t *bias, int8_t *out) {
    ek_conv_reference(p, in, filter, bias, out);
}
