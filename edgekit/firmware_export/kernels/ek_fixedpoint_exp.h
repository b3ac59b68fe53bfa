/* edgekit: fixed-point exp and reciprocal helpers shared by LOGISTIC and TANH.
 *
 * gemmlowp-style: exp on [-1/4, 0) by a Taylor polynomial around -1/8, exp of
 * any non-positive value by a barrel shifter of exp(-2^k) constants, and a
 * Newton-Raphson reciprocal of 1 + x. */
#ifndef EK_FIXEDPOINT_EXP_H
#define EK_FIXEDPOINT_EXP_H

#include <stdint.h>
#include "ek_fixedpoint.h"

/* exp(a) for a in [-1/4, 0), a and result Q0.31. */
static inline int32_t ek_exp_on_interval_quarter(int32_t a) {
    const int32_t c_exp_m1_8 = 1895147668;   /* exp(-1/8) in Q0.31 */
    const int32_t c_1_3 = 715827883;         /* 1/3 in Q0.31 */
    const int32_t x = a + (1 << 28);         /* a + 1/8 */
    const int32_t x2 = ek_srdhm(x, x);
    const int32_t x3 = ek_srdhm(x2, x);
    const int32_t x4 = ek_srdhm(x2, x2);
    const int32_t x4_over_4 = ek_sat_mul_pot(x4, -2);
    const int32_t poly = ek_sat_mul_pot(ek_srdhm(x4_over_4 + x3, c_1_3) + x2, -1);
    return c_exp_m1_8 + ek_srdhm(c_exp_m1_8, x + poly);
}

/* exp(a) for a <= 0 in Q<int_bits>.<31 - int_bits>, int_bits 0 .. 5; result
 * Q0.31. */
static inline int32_t ek_exp_on_negative_values(int32_t a, int int_bits) {
    const int frac_bits = 31 - int_bits;
    const int32_t quarter = 1 << (frac_bits - 2);
    const int32_t a_mod_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = ek_exp_on_interval_quarter(ek_sat_mul_pot(a_mod_minus_quarter, int_bits));
    const int32_t remainder = a_mod_minus_quarter - a;
    /* exp(-2^k) in Q0.31 for k = -2 .. int_bits - 1 (the integer bits). */
    static const int32_t mults[7] = {1672461947, 1302514674, 790015084, 290630308,
                                     39332535, 720401, 242};
    for (int k = 0; k < int_bits + 2; ++k) {
        if (remainder & (1 << (frac_bits + k - 2))) {
            result = ek_srdhm(result, mults[k]);
        }
    }
    if (a == 0) result = INT32_MAX;
    return result;
}

/* 2 / (1 + x) for x in [0, 1), x Q0.31; result Q2.29 (Newton-Raphson). */
static inline int32_t ek_two_over_one_plus_x(int32_t a) {
    const int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c_48_17 = 1515870810;      /* Q2.29 */
    const int32_t c_m32_17 = -1010580540;    /* Q2.29 */
    int32_t x = c_48_17 + ek_srdhm(half_den, c_m32_17);
    for (int i = 0; i < 3; ++i) {
        const int32_t one_minus = (1 << 29) - ek_srdhm(half_den, x);
        x = x + ek_sat_mul_pot(ek_srdhm(x, one_minus), 2);
    }
    return x;
}

#endif /* EK_FIXEDPOINT_EXP_H */
