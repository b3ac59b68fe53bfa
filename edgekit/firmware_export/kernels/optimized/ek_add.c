/* edgekit: ADD (and SUB: the rescaled second input is subtracted), int8,
 * with NumPy-style broadcasting.
 *
 * Optimized version of kernels/ek_add.c: same function, same results bit
 * for bit.  TFLite's int8 ADD brings both inputs to the scale 2 * max(s1, s2)
 * with left_shift 20: the input of the larger scale has a multiplier of
 * exactly 0.5 (mult 2^30, shift 0), whose requantization has no rounding:
 * ek_mbqm((x + o) << 20, 2^30, 0) == (x + o) << 19, one shifted add.  The
 * other input and the output take a rounding high multiply and three
 * adds/shifts:
 *   - ek_srdhm(x, m) == (x*m + 2^30) >> 31 (m != INT32_MIN; see
 *     ek_opt_requant.h) == (2x*m + 2^31) >> 32: SMMULR(2x, m) on DSP cores,
 *     SMULL and a rounding add without;
 *   - ek_rdbpot(h, e) == (h + 2^(e-1) + (h < 0 ? -1 : 0)) >> e for e >= 1
 *     (ties away from zero: a negative h needs one more unit past the half);
 *     the output zero point is added before the shift, as zp << e;
 *   - (x + o) << s == (x << s) + (o << s).
 * These hold while every value stays within int32: |x + o| <= 255, so with
 * left_shift 20, right shifts of 1..30 (the other input) and 1..23 (the
 * output) |2 (x+o) << 20| < 2^29, |raw| < 2^28 and |h + 2^(e-1) + zp << e| <
 * 2^31.  Loops are specialized on which input has the 0.5 multiplier (ADD
 * swaps its inputs so that it is the first); other parameters, and
 * broadcasting, take the reference loop.  Only the loops ek_paths.h lists
 * are compiled (EKOPT_USE; ops/add.py add_paths).
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_add_ref.h"

#define EKADD_LS 20

typedef struct {
    int32_t half;          /* 1: multiplier 0.5, the shifted add only */
    int32_t off;           /* offset << 21 (general) or << 19 (half) */
    int32_t mult, add, rsh;
} ekadd_in;

static inline int ekadd_in_make(int32_t offset, int32_t mult, int32_t shift, ekadd_in *q) {
    q->half = shift == 0 && mult == (1 << 30);
    q->mult = mult;
    q->rsh = -shift;
    if (q->half) {
        q->off = (int32_t)((uint32_t)offset << (EKADD_LS - 1));
        q->add = 0;
        return 1;
    }
    q->off = (int32_t)((uint32_t)offset << (EKADD_LS + 1));
    q->add = q->rsh >= 1 ? 1 << (q->rsh - 1) : 0;
    return mult != INT32_MIN && q->rsh >= 1 && q->rsh <= 30;
}

/* Input value x requantized (half: exact shifted add; else rounding). */
static inline __attribute__((always_inline)) int32_t ekadd_in_apply(int32_t x, const int half,
                                                                    int32_t off, int32_t mult,
                                                                    int32_t add, int32_t rsh) {
    if (half) return (int32_t)((uint32_t)x << (EKADD_LS - 1)) + off;
    return ek_rq_x2((int32_t)((uint32_t)x << (EKADD_LS + 1)) + off, mult, add, rsh);
}

/* The flat same-shape loop; half1, half2 and subtract are literals at every
 * call site, so each specialization is one branch-free loop. */
static inline __attribute__((always_inline)) void ekadd_flat(
    const ek_add_params *p, const ekadd_in *q1, const ekadd_in *q2, const int8_t *in1,
    const int8_t *in2, int8_t *out, const int half1, const int half2, const int subtract) {
    const int32_t o1 = q1->off, m1 = q1->mult, a1 = q1->add, r1 = q1->rsh;
    const int32_t o2 = q2->off, m2 = q2->mult, a2 = q2->add, r2 = q2->rsh;
    const int32_t mo = p->out_mult, ro = -p->out_shift;
    const int32_t ao = (1 << (ro - 1)) + (int32_t)((uint32_t)p->out_offset << ro);
    const int32_t lo = p->act_min, hi = p->act_max;
    /* A negative index up to 0 from the ends: one counter for three arrays. */
    const int32_t n = p->size;
    const int8_t *const e1 = in1 + n, *const e2 = in2 + n;
    int8_t *const eo = out + n;
    for (int32_t i = -n; i < 0; ++i) {
        const int32_t s1 = ekadd_in_apply(e1[i], half1, o1, m1, a1, r1);
        const int32_t s2 = ekadd_in_apply(e2[i], half2, o2, m2, a2, r2);
        const int32_t raw = subtract ? s1 - s2 : s1 + s2;
        eo[i] = (int8_t)ek_clamp32(ek_rq_x2(raw * 2, mo, ao, ro), lo, hi);
    }
}

/* Each loop only if ek_paths.h lists it (ops/add.py add_paths mirrors the
 * choice); a choice left out traps (EKOPT_NOT_LISTED). */
#define EKADD_FLAT(PATH, A, B, X, Y, H1, H2, SUB)                               \
    do {                                                                        \
        if (EKOPT_USE(PATH)) {                                                  \
            ekadd_flat(p, A, B, X, Y, out, H1, H2, SUB);                         \
        } else {                                                                \
            EKOPT_NOT_LISTED();                                                 \
        }                                                                       \
    } while (0)

void ek_add_s8(const ek_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    ekadd_in q1, q2;
    if (!p->broadcast && p->left_shift == EKADD_LS && p->out_mult != INT32_MIN
        && p->out_shift <= -1 && p->out_shift >= -23
        && ekadd_in_make(p->in1_offset, p->in1_mult, p->in1_shift, &q1)
        && ekadd_in_make(p->in2_offset, p->in2_mult, p->in2_shift, &q2)
        && (q1.half || q2.half)) {
        if (!p->subtract) {
            if (!q1.half) {          /* ADD commutes: the 0.5 input first */
                EKADD_FLAT(EKOPT_ADD_H1, &q2, &q1, in2, in1, 1, 0, 0);
            } else if (!q2.half) {
                EKADD_FLAT(EKOPT_ADD_H1, &q1, &q2, in1, in2, 1, 0, 0);
            } else {
                EKADD_FLAT(EKOPT_ADD_H12, &q1, &q2, in1, in2, 1, 1, 0);
            }
        } else if (!q1.half) {
            EKADD_FLAT(EKOPT_SUB_H2, &q1, &q2, in1, in2, 0, 1, 1);
        } else if (!q2.half) {
            EKADD_FLAT(EKOPT_SUB_H1, &q1, &q2, in1, in2, 1, 0, 1);
        } else {
            EKADD_FLAT(EKOPT_SUB_H12, &q1, &q2, in1, in2, 1, 1, 1);
        }
        return;
    }
#if EKOPT_USE(EKOPT_ADD_REF)
    ek_add_reference(p, in1, in2, out);
#else
    EKOPT_NOT_LISTED();
#endif
}
