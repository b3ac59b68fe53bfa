/* edgekit: ADD (and SUB: the rescaled second input is subtracted), int8,
 * with NumPy-style broadcasting.
 *
 * Optimized version of kernels/ek_add.c: same function, same results bit
 * for bit.  The three requantizations per element use ekopt_rq_apply (the
 * exact short form of ek_mbqm, shift split and rounding mask prepared once
 * per call); the same-shape case is a flat loop over the elements.  Unusual
 * shifts (outside -31..31) or broadcasting take the reference loop.
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_add_ref.h"

/* The flat same-shape loop; `subtract` is a literal at both call sites, so
 * the compiler emits one branch-free loop for ADD and one for SUB. */
static inline __attribute__((always_inline)) void ekopt_add_flat(
    const ek_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out,
    const int subtract) {
    const ekopt_rq q1 = ekopt_rq_make(p->in1_mult, p->in1_shift);
    const ekopt_rq q2 = ekopt_rq_make(p->in2_mult, p->in2_shift);
    const ekopt_rq qo = ekopt_rq_make(p->out_mult, p->out_shift);
    const int32_t o1 = p->in1_offset, o2 = p->in2_offset, ls = p->left_shift;
    const int32_t oo = p->out_offset, lo = p->act_min, hi = p->act_max;
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t s1 = ekopt_rq_apply(ek_shl(in1[i] + o1, ls), &q1);
        const int32_t s2 = ekopt_rq_apply(ek_shl(in2[i] + o2, ls), &q2);
        const int32_t raw = subtract ? s1 - s2 : s1 + s2;
        out[i] = (int8_t)ek_clamp32(ekopt_rq_apply(raw, &qo) + oo, lo, hi);
    }
}

void ek_add_s8(const ek_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    const int32_t mults[3] = {p->in1_mult, p->in2_mult, p->out_mult};
    const int32_t shifts[3] = {p->in1_shift, p->in2_shift, p->out_shift};
    if (!p->broadcast && ekopt_rq_ok(mults, shifts, 3)) {
        if (p->subtract) {
            ekopt_add_flat(p, in1, in2, out, 1);
        } else {
            ekopt_add_flat(p, in1, in2, out, 0);
        }
        return;
    }
    ek_add_reference(p, in1, in2, out);
}
