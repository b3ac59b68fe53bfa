/* edgekit: RELU, RELU6 and LEAKY_RELU, int8.
 *
 * RELU and LEAKY_RELU requantize x - in_zp to the output scale (one
 * multiplier for x >= in_zp, another -- alpha folded in -- below it), add
 * the output zero point and clamp.  RELU6 is a plain clamp of the raw input
 * values to [zero point, quantized 6] (no requantization, as TFLM does). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

void ek_relu_s8(const ek_relu_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        int32_t r;
        if (p->requantize) {
            const int32_t v = (int32_t)in[i] - p->in_zp;
            r = v >= 0 ? ek_mbqm(v, p->pos_mult, p->pos_shift)
                       : ek_mbqm(v, p->neg_mult, p->neg_shift);
            r += p->out_zp;
        } else {
            r = in[i];
        }
        out[i] = (int8_t)ek_clamp32(r, p->act_min, p->act_max);
    }
}
