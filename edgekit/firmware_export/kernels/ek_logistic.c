/* edgekit: LOGISTIC, int8 in, int8 out (output scale 1/256, zero point -128).
 *
 * The input, minus its zero point, is rescaled to a Q4.27 value; the sigmoid
 * of |x| is 1 / (1 + exp(-|x|)) with gemmlowp-style fixed-point exp (Taylor
 * polynomial on [-1/4, 0) plus a barrel shifter of exp(-2^k) constants) and
 * Newton-Raphson reciprocal; negative inputs use 1 - sigmoid(|x|).  Inputs
 * beyond +-range_radius saturate to -128 / 127. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_fixedpoint_exp.h"

#define EK_LOG_INT_BITS 4

/* 1 / (1 + x) for x in [0, 1), x Q0.31; result Q0.31. */
static int32_t ek_log_one_over_one_plus_x(int32_t a) {
    return ek_sat_mul_pot(ek_two_over_one_plus_x(a), 1);
}

void ek_logistic_s8(const ek_logistic_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = (int32_t)in[i] - p->in_zp;
        if (v <= -p->range_radius) {
            out[i] = -128;
        } else if (v >= p->range_radius) {
            out[i] = 127;
        } else {
            const int32_t xq = ek_mbqm(v, p->in_mult, p->in_shift);   /* Q4.27 */
            int32_t s;                                                /* Q0.31 */
            if (xq == 0) {
                s = 1 << 30;
            } else {
                const int32_t ax = xq > 0 ? xq : -xq;
                const int32_t e = ek_exp_on_negative_values(-ax, EK_LOG_INT_BITS);
                const int32_t pos = ek_log_one_over_one_plus_x(e);
                s = xq > 0 ? pos : INT32_MAX - pos;
            }
            const int32_t r = ek_rdbpot(s, 31 - 8) - 128;
            out[i] = (int8_t)ek_clamp32(r, -128, 127);
        }
    }
}
