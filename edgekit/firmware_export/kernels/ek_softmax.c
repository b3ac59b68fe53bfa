/* edgekit: SOFTMAX, int8 in, int8 out (output scale 1/256, zero point -128).
 *
 * exp() and 1/x in gemmlowp-style fixed point, as TFLite's integer softmax
 * defines them: the input difference to the row maximum is rescaled into a
 * Q5.26 value, exp of it is evaluated on [-1/4, 0) by a Taylor polynomial
 * around -1/8 and extended by a barrel shifter of exp(-2^k) constants; the
 * sum (Q12.19) is inverted by Newton-Raphson.
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

/* Fixed-point values are plain int32 raws; the Qm.n format is in the names. */
#define EK_ONE_Q0 INT32_MAX

static inline int32_t ek_fx_mul(int32_t a, int32_t b) { return ek_srdhm(a, b); }

/* exp(a) for a in [-1/4, 0), a and result Q0.31. */
static int32_t ek_exp_quarter(int32_t a) {
    const int32_t c_exp_m1_8 = 1895147668;   /* exp(-1/8) in Q0.31 */
    const int32_t c_1_3 = 715827883;         /* 1/3 in Q0.31 */
    const int32_t x = a + (1 << 28);         /* a + 1/8 */
    const int32_t x2 = ek_fx_mul(x, x);
    const int32_t x3 = ek_fx_mul(x2, x);
    const int32_t x4 = ek_fx_mul(x2, x2);
    const int32_t x4_over_4 = ek_sat_mul_pot(x4, -2);
    const int32_t poly = ek_sat_mul_pot(ek_fx_mul(x4_over_4 + x3, c_1_3) + x2, -1);
    return c_exp_m1_8 + ek_fx_mul(c_exp_m1_8, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26; result Q0.31. */
static int32_t ek_exp_neg_q5(int32_t a) {
    const int frac = 26;
    const int32_t quarter = 1 << (frac - 2);
    const int32_t mask = quarter - 1;
    const int32_t a_mod_minus_quarter = (a & mask) - quarter;
    /* Rescale Q5.26 -> Q0.31: multiply by 2^5, saturating. */
    int32_t result = ek_exp_quarter(ek_sat_mul_pot(a_mod_minus_quarter, 5));
    const int32_t remainder = a_mod_minus_quarter - a;
    static const int32_t mults[7] = {1672461947, 1302514674, 790015084, 290630308,
                                     39332535, 720401, 242};
    for (int k = 0; k < 7; ++k) {
        const int exponent = k - 2;          /* exp(-2^exponent) */
        if (remainder & (1 << (frac + exponent))) {
            result = ek_fx_mul(result, mults[k]);
        }
    }
    if (a == 0) result = EK_ONE_Q0;
    return result;
}

/* 1 / (1 + x) for x in [0, 1), x Q0.31; result Q0.31. */
static int32_t ek_one_over_one_plus_x(int32_t a) {
    /* half_denominator = (a + 1) / 2, rounded, in Q0.31 */
    const int64_t sum = (int64_t)a + (int64_t)EK_ONE_Q0;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c_48_17 = 1515870810;      /* Q2.29 */
    const int32_t c_m32_17 = -1010580540;    /* Q2.29 */
    int32_t x = c_48_17 + ek_fx_mul(half_den, c_m32_17);   /* Q2.29 */
    const int32_t one_q2 = 1 << 29;
    for (int i = 0; i < 3; ++i) {
        const int32_t hdx = ek_fx_mul(half_den, x);          /* Q2.29 */
        const int32_t one_minus = one_q2 - hdx;              /* Q2.29 */
        x = x + ek_sat_mul_pot(ek_fx_mul(x, one_minus), 2);  /* Q4.27 -> Q2.29 */
    }
    /* x / 2 as Q1.30 -> Q0.31 */
    return ek_sat_mul_pot(x, 1);
}

static inline int ek_clz32(uint32_t x) {
    int n = 0;
    if (x == 0) return 32;
    while (!(x & 0x80000000u)) { x <<= 1; ++n; }
    return n;
}

void ek_softmax_s8(const ek_softmax_params *p, const int8_t *in, int8_t *out) {
    for (int32_t r = 0; r < p->outer; ++r) {
        const int8_t *x = in + (int64_t)r * p->depth;
        int8_t *y = out + (int64_t)r * p->depth;
        int32_t mx = -128;
        for (int32_t c = 0; c < p->depth; ++c) mx = ek_max32(mx, x[c]);
        int32_t sum = 0;  /* Q12.19 */
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t d = (int32_t)x[c] - mx;
            if (d >= p->diff_min) {
                const int32_t scaled = ek_srdhm(ek_shl(d, p->input_left_shift), p->input_multiplier);
                sum += ek_sat_mul_pot(ek_exp_neg_q5(scaled), -12);
            }
        }
        const int headroom = ek_clz32((uint32_t)sum);
        const int bits_over_unit = 12 - headroom;
        const int32_t shifted_minus_one =
            (int32_t)(((uint32_t)sum << headroom) - ((uint32_t)1 << 31));
        const int32_t scale = ek_one_over_one_plus_x(shifted_minus_one);
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t d = (int32_t)x[c] - mx;
            if (d >= p->diff_min) {
                const int32_t scaled = ek_srdhm(ek_shl(d, p->input_left_shift), p->input_multiplier);
                const int32_t e = ek_exp_neg_q5(scaled);
                const int32_t v = ek_rdbpot(ek_fx_mul(scale, e), bits_over_unit + 31 - 8) - 128;
                y[c] = (int8_t)ek_clamp32(v, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
}
