/* edgekit: the strided gather of TRANSPOSE / STRIDED_SLICE, element by
 * element (shared by kernels/ek_strided_copy.c and the optimized version,
 * which takes it for gathers without a contiguous innermost run).
 *
 * Output element (i0..i5), in row-major order, is input element
 * base + sum(i_d * step_d); steps may be negative (reversed slices) and
 * encode the permutation of a transpose.  Elements of 1, 2 or 4 bytes. */
#ifndef EK_STRIDED_COPY_REF_H
#define EK_STRIDED_COPY_REF_H

#include "ek_kernels.h"

#define EK_SC_LOOP(T)                                                     \
    do {                                                                  \
        const T *src = (const T *)in;                                     \
        T *dst = (T *)out;                                                \
        int32_t idx[6] = {0, 0, 0, 0, 0, 0};                              \
        int32_t off = p->base;                                            \
        for (int32_t i = 0; i < p->size; ++i) {                           \
            dst[i] = src[off];                                            \
            for (int d = 5; d >= 0; --d) {                                \
                off += p->step[d];                                        \
                if (++idx[d] < p->shape[d]) break;                        \
                off -= p->step[d] * p->shape[d];                          \
                idx[d] = 0;                                               \
            }                                                             \
        }                                                                 \
    } while (0)

static inline void ek_strided_copy_ref(const ek_strided_copy_params *p, const void *in,
                                       void *out) {
    if (p->elem_size == 1) {
        EK_SC_LOOP(int8_t);
    } else if (p->elem_size == 2) {
        EK_SC_LOOP(int16_t);
    } else {
        EK_SC_LOOP(int32_t);
    }
}

#endif /* EK_STRIDED_COPY_REF_H */
