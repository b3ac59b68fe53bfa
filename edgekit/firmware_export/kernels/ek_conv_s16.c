/* edgekit: CONV_2D with int16 activations, int8 per-channel weights, int64
 * bias (TFLite 16x8): the reference loop (ek_conv_s16_ref.h). */
#include "ek_kernels.h"
#include "ek_conv_s16_ref.h"

void ek_conv2d_s16(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                   const int64_t *bias, int16_t *out) {
    ek_conv2d_s16_reference(p, in, filter, bias, out);
}
