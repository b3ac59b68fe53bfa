/* edgekit: TANH, int8 in, int8 out (output scale 1/128, zero point 0).
 *
 * Same scheme as LOGISTIC: the zero-point-corrected input is rescaled to a
 * Q4.27 value; tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|) computed in
 * fixed point (Taylor polynomial on [-1/4, 0) and a barrel shifter of
 * exp(-2^k) constants, input viewed as Q5.26), the quotient by
 * Newton-Raphson.  Inputs beyond +-range_radius saturate to -128 / 127;
 * the Q0.31 result is rounded to Q0.7. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_fixedpoint_exp.h"

#define EK_TANH_INT_BITS 5                       /* exp argument: 2|x|, Q5.26 */

/* (1 - x) / (1 + x) for x in [0, 1), x and result Q0.31. */
static int32_t ek_tanh_one_minus_over_one_plus(int32_t a) {
    return ek_sat_mul_pot(ek_two_over_one_plus_x(a) - (1 << 29), 2);
}

void ek_tanh_s8(const ek_tanh_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = (int32_t)in[i] - p->in_zp;
        if (v <= -p->range_radius) {
            out[i] = -128;
        } else if (v >= p->range_radius) {
            out[i] = 127;
        } else {
            const int32_t xq = ek_mbqm(v, p->in_mult, p->in_shift);   /* Q4.27 */
            int32_t t = 0;                                            /* Q0.31 */
            if (xq != 0) {
                const int32_t neg_abs = xq > 0 ? -xq : xq;
                /* -2|x| in Q5.26 has the raw bits of -|x| in Q4.27. */
                const int32_t e = ek_exp_on_negative_values(neg_abs, EK_TANH_INT_BITS);
                t = ek_tanh_one_minus_over_one_plus(e);
                if (xq < 0) t = -t;
            }
            const int32_t r = ek_rdbpot(t, 31 - 7);
            out[i] = (int8_t)ek_clamp32(r, -128, 127);
        }
    }
}
