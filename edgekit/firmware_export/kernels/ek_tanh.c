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

#define EK_TANH_INT_BITS 5                       /* exp argument: 2|x|, Q5.26 */
#define EK_TANH_FRAC_BITS (31 - EK_TANH_INT_BITS)

/* exp(a) for a in [-1/4, 0), a and result Q0.31. */
static int32_t ek_tanh_exp_quarter(int32_t a) {
    const int32_t c_exp_m1_8 = 1895147668;   /* exp(-1/8) in Q0.31 */
    const int32_t c_1_3 = 715827883;         /* 1/3 in Q0.31 */
    const int32_t x = a + (1 << 28);
    const int32_t x2 = ek_srdhm(x, x);
    const int32_t x3 = ek_srdhm(x2, x);
    const int32_t x4 = ek_srdhm(x2, x2);
    const int32_t x4_over_4 = ek_sat_mul_pot(x4, -2);
    const int32_t poly = ek_sat_mul_pot(ek_srdhm(x4_over_4 + x3, c_1_3) + x2, -1);
    return c_exp_m1_8 + ek_srdhm(c_exp_m1_8, x + poly);
}

/* exp(a) for a <= 0 in Q5.26; result Q0.31. */
static int32_t ek_tanh_exp_neg(int32_t a) {
    const int32_t quarter = 1 << (EK_TANH_FRAC_BITS - 2);
    const int32_t a_mod_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = ek_tanh_exp_quarter(ek_sat_mul_pot(a_mod_minus_quarter, EK_TANH_INT_BITS));
    const int32_t remainder = a_mod_minus_quarter - a;
    /* exp(-2^k) in Q0.31 for k = -2 .. 4 (the integer bits of Q5.26). */
    static const int32_t mults[7] = {1672461947, 1302514674, 790015084, 290630308,
                                     39332535, 720401, 242};
    for (int k = 0; k < 7; ++k) {
        if (remainder & (1 << (EK_TANH_FRAC_BITS + k - 2))) {
            result = ek_srdhm(result, mults[k]);
        }
    }
    if (a == 0) result = INT32_MAX;
    return result;
}

/* (1 - x) / (1 + x) for x in [0, 1), x and result Q0.31. */
static int32_t ek_tanh_one_minus_over_one_plus(int32_t a) {
    const int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c_48_17 = 1515870810;      /* Q2.29 */
    const int32_t c_m32_17 = -1010580540;    /* Q2.29 */
    int32_t x = c_48_17 + ek_srdhm(half_den, c_m32_17);
    for (int i = 0; i < 3; ++i) {
        const int32_t one_minus = (1 << 29) - ek_srdhm(half_den, x);
        x = x + ek_sat_mul_pot(ek_srdhm(x, one_minus), 2);
    }
    return ek_sat_mul_pot(x - (1 << 29), 2);
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
                t = ek_tanh_one_minus_over_one_plus(ek_tanh_exp_neg(neg_abs));
                if (xq < 0) t = -t;
            }
            const int32_t r = ek_rdbpot(t, 31 - 7);
            out[i] = (int8_t)ek_clamp32(r, -128, 127);
        }
    }
}
