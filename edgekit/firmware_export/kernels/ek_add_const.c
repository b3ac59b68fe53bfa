/* edgekit: ADD (and SUB x - c) of an int8 activation and a constant that
 * repeats along it with period cols (a scalar: cols 1; a vector over the
 * last dims: cols its size), lowered by ops/add.py const_operand.
 *
 * TFLite's int8 ADD shifts both inputs (plus their offsets) left by 20 bits,
 * rescales each to the common scale 2 * max(s1, s2) with its multiplier
 * (MultiplyByQuantizedMultiplier: a rounding doubling high multiply, then a
 * rounding right shift, ties away from zero), adds them and rescales the
 * sum to the output.  The constant's rescaled value does not depend on the
 * activation: the code generator computes it (negated for SUB), doubled, as
 * terms[c].
 *
 * The rescalings use two identities, valid while every value stays within
 * int32 (the generator checks the shifts: 1..30 for the input, 1..23 for
 * the output; |(x + o) << 20| < 2^28, |sum| < 2^28, |zp << 23| <= 2^30):
 *   - srdhm(v, m) == (v*m + 2^30) >> 31 == (2v*m + 2^31) >> 32 (m > 0);
 *   - rdbpot(h, e) + zp == (h + 2^(e-1) + (zp << e) + (h < 0 ? -1 : 0)) >> e
 *     for e >= 1 (add = 2^(e-1) + (zp << e)).
 * ek_add_const_half_s8 is for an activation with the larger scale, whose
 * multiplier is exactly 0.5 (mult 2^30, shift 0): its rescaling is exact,
 * (x + in_offset) << 19, and the generator folds in_offset << 19 into terms.
 * The two functions are separate (-ffunction-sections): a firmware links the
 * ones its model calls. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

/* The output code from twice the sum.  The loops pass the fields as locals:
 * an int8 store may alias *p, so reading them there reloads them per element. */
static inline int8_t ek_add_const_out(int32_t sum2, int32_t om, int32_t oa, int32_t orsh,
                                      int32_t lo, int32_t hi) {
    const int32_t r = ek_rq_x2(sum2, om, oa, orsh);
    return (int8_t)(r < lo ? lo : (r > hi ? hi : r));
}

void ek_add_const_half_s8(const ek_add_const_params *p, const int8_t *in, int8_t *out) {
    const int32_t n = p->rows * p->cols, cols = p->cols;
    const int32_t *const terms = p->terms;
    const int32_t om = p->out_mult, oa = p->out_add, orsh = p->out_rsh;
    const int32_t lo = p->act_min, hi = p->act_max;
    int32_t c = 0;
    for (int32_t i = 0; i < n; ++i) {
        /* 2 * ((x + in_offset) << 19 + term) */
        const int32_t sum2 = (int32_t)((uint32_t)in[i] << 20) + terms[c];
        out[i] = ek_add_const_out(sum2, om, oa, orsh, lo, hi);
        if (++c == cols) c = 0;
    }
}

void ek_add_const_s8(const ek_add_const_params *p, const int8_t *in, int8_t *out) {
    const int32_t n = p->rows * p->cols, cols = p->cols;
    const int32_t off = p->in_offset21, m = p->in_mult, add = p->in_add, rsh = p->in_rsh;
    const int32_t *const terms = p->terms;
    const int32_t om = p->out_mult, oa = p->out_add, orsh = p->out_rsh;
    const int32_t lo = p->act_min, hi = p->act_max;
    int32_t c = 0;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t s = ek_rq_x2((int32_t)((uint32_t)in[i] << 21) + off, m, add, rsh);
        out[i] = ek_add_const_out(2 * s + terms[c], om, oa, orsh, lo, hi);
        if (++c == cols) c = 0;
    }
}
