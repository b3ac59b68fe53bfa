/* edgekit: ADD (and SUB, with the second input's multiplier negated), int8,
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

typedef struct {
    int32_t mult, lsh, rsh, mask, half;
} ekopt_rq;

static inline int ekopt_rq_ok(const int32_t *mult, const int32_t *shift, int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        if (mult[i] == INT32_MIN || shift[i] > 31 || shift[i] < -31) return 0;
    }
    return 1;
}

static inline ekopt_rq ekopt_rq_make(int32_t mult, int32_t shift) {
    ekopt_rq q;
    q.mult = mult;
    q.lsh = shift > 0 ? shift : 0;
    q.rsh = shift > 0 ? 0 : -shift;
    q.mask = (int32_t)((1u << q.rsh) - 1u);
    q.half = q.mask >> 1;
    return q;
}

static inline int32_t ekopt_rq_apply(int32_t acc, const ekopt_rq *q) {
    const int32_t x = (int32_t)((uint32_t)acc << q->lsh);
    const int32_t h = (int32_t)(((int64_t)x * q->mult + (1LL << 30)) >> 31);
    return (h >> q->rsh) + ((h & q->mask) > q->half + (int32_t)((uint32_t)h >> 31));
}

/* ---- end of shared helpers ---- */

static inline int8_t ek_add_one(const ek_add_params *p, int32_t a, int32_t b) {
    const int32_t x1 = ek_shl(a + p->in1_offset, p->left_shift);
    const int32_t x2 = ek_shl(b + p->in2_offset, p->left_shift);
    const int32_t s1 = ek_mbqm(x1, p->in1_mult, p->in1_shift);
    const int32_t s2 = ek_mbqm(x2, p->in2_mult, p->in2_shift);
    const int32_t r = ek_mbqm(s1 + s2, p->out_mult, p->out_shift) + p->out_offset;
    return (int8_t)ek_clamp32(r, p->act_min, p->act_max);
}

void ek_add_s8(const ek_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    const int32_t mults[3] = {p->in1_mult, p->in2_mult, p->out_mult};
    const int32_t shifts[3] = {p->in1_shift, p->in2_shift, p->out_shift};
    if (!p->broadcast && ekopt_rq_ok(mults, shifts, 3)) {
        const ekopt_rq q1 = ekopt_rq_make(p->in1_mult, p->in1_shift);
        const ekopt_rq q2 = ekopt_rq_make(p->in2_mult, p->in2_shift);
        const ekopt_rq qo = ekopt_rq_make(p->out_mult, p->out_shift);
        const int32_t o1 = p->in1_offset, o2 = p->in2_offset, ls = p->left_shift;
        const int32_t oo = p->out_offset, lo = p->act_min, hi = p->act_max;
        for (int32_t i = 0; i < p->size; ++i) {
            const int32_t s1 = ekopt_rq_apply(ek_shl(in1[i] + o1, ls), &q1);
            const int32_t s2 = ekopt_rq_apply(ek_shl(in2[i] + o2, ls), &q2);
            out[i] = (int8_t)ek_clamp32(ekopt_rq_apply(s1 + s2, &qo) + oo, lo, hi);
        }
        return;
    }
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            out[i] = ek_add_one(p, in1[i], in2[i]);
        }
        return;
    }
    int32_t idx[6] = {0, 0, 0, 0, 0, 0};
    for (int32_t i = 0; i < p->size; ++i) {
        int64_t o1 = 0, o2 = 0;
        for (int d = 0; d < 6; ++d) {
            o1 += (int64_t)idx[d] * p->in1_strides[d];
            o2 += (int64_t)idx[d] * p->in2_strides[d];
        }
        out[i] = ek_add_one(p, in1[o1], in2[o2]);
        for (int d = 5; d >= 0; --d) {
            if (++idx[d] < p->out_shape[d]) break;
            idx[d] = 0;
        }
    }
}
