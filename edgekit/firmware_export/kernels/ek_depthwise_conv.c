/* edgekit: DEPTHWISE_CONV_2D, int8, per-channel filters 1 x H x W x (C*M).
 * `scratch` (see ek_depthwise_conv_ref.h) lets the output overwrite the input. */
#include "ek_kernels.h"
#include "ek_depthwise_conv_ref.h"

void ek_depthwise_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                            const int32_t *bias, int8_t *out, int8_t *scratch) {
    ek_depthwise_conv_reference(p, in, filter, bias, out, scratch);
}
