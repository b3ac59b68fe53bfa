/* edgekit: MEAN over a contiguous block of axes, int8 (TFLM's quantized
 * mean: integer sum, zero-point correction, one requantization whose
 * multiplier already holds 1/count). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

void ek_mean_s8(const ek_mean_params *p, const int8_t *in, int8_t *out) {
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->inner; ++i) {
            int32_t sum = 0;
            for (int32_t r = 0; r < p->reduce; ++r) {
                sum += in[((int64_t)o * p->reduce + r) * p->inner + i];
            }
            sum -= p->in_zp * p->reduce;
            int32_t v = ek_mbqm(sum, p->mult, p->shift) + p->out_zp;
            out[(int64_t)o * p->inner + i] = (int8_t)ek_clamp32(v, -128, 127);
        }
    }
}
