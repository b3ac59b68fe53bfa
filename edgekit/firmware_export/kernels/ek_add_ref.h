/* edgekit: reference ADD int8 loop, shared by kernels/ek_add.c and its
 * optimized version (kernels/optimized/ek_add.c, general fallback).  The loop
 * is marked unused: the optimized kernel calls it only when its ek_paths.h
 * lists EKOPT_ADD_REF. */
#ifndef EK_ADD_REF_H
#define EK_ADD_REF_H

#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static inline int8_t ek_add_one(const ek_add_params *p, int32_t a, int32_t b) {
    const int32_t x1 = ek_shl(a + p->in1_offset, p->left_shift);
    const int32_t x2 = ek_shl(b + p->in2_offset, p->left_shift);
    const int32_t s1 = ek_mbqm(x1, p->in1_mult, p->in1_shift);
    const int32_t s2 = ek_mbqm(x2, p->in2_mult, p->in2_shift);
    /* SUB subtracts the rescaled second input: negating its multiplier
     * instead would round ties differently (the rounding high multiply is
     * not odd-symmetric). */
    const int32_t raw = p->subtract ? s1 - s2 : s1 + s2;
    const int32_t r = ek_mbqm(raw, p->out_mult, p->out_shift) + p->out_offset;
    return (int8_t)ek_clamp32(r, p->act_min, p->act_max);
}

static __attribute__((unused)) void ek_add_reference(const ek_add_params *p, const int8_t *in1, const int8_t *in2,
                             int8_t *out) {
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

#endif /* EK_ADD_REF_H */
