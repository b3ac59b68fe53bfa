/* edgekit: MEAN over a contiguous block of axes with int16 activations: the
 * 32-bit sum, one requantization whose multiplier already holds 1/count
 * (as the int8 MEAN, ek_mean.c), an int16 clamp. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

void ek_mean_s16(const ek_mean_params *p, const int16_t *in, int16_t *out) {
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->inner; ++i) {
            int32_t sum = 0;
            for (int32_t r = 0; r < p->reduce; ++r) {
                sum += in[((int64_t)o * p->reduce + r) * p->inner + i];
            }
            sum -= p->in_zp * p->reduce;
            const int32_t v = ek_mbqm(sum, p->mult, p->shift) + p->out_zp;
            out[(int64_t)o * p->inner + i] = (int16_t)ek_clamp32(v, -32768, 32767);
        }
    }
}
