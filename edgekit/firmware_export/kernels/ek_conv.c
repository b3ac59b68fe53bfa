/* edgekit: CONV_2D, int8 activations, int8 per-channel filters, int32 bias. */
#include "ek_kernels.h"
#include "ek_conv_ref.h"

/* In place (1x1, see ek_conv_reference_buf): one output pixel at a time
 * through scratch (out_c bytes). */
void ek_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                  const int32_t *bias, int8_t *out, int8_t *scratch) {
    ek_conv_reference_buf(p, in, filter, bias, out, ek_conv_overlaps(p, in, out) ? scratch : 0);
}
