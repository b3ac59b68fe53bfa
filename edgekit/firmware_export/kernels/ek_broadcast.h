/* edgekit: NumPy-style broadcast iteration over up to 6 dims, shared by the
 * elementwise binary kernels (shapes padded to 6; a stride of 0 where an
 * input's dim is broadcast). */
#ifndef EK_BROADCAST_H
#define EK_BROADCAST_H

#include <stdint.h>

typedef struct {
    int32_t idx[6];
    const int32_t *out_shape, *in1_strides, *in2_strides;
} ek_bcast_iter;

static inline void ek_bcast_init(ek_bcast_iter *it, const int32_t *out_shape,
                                 const int32_t *in1_strides, const int32_t *in2_strides) {
    for (int d = 0; d < 6; ++d) it->idx[d] = 0;
    it->out_shape = out_shape;
    it->in1_strides = in1_strides;
    it->in2_strides = in2_strides;
}

/* The two input offsets of the current output element (row-major order);
 * then moves on to the next one. */
static inline void ek_bcast_step(ek_bcast_iter *it, int32_t *o1, int32_t *o2) {
    int32_t a = 0, b = 0;
    for (int d = 0; d < 6; ++d) {
        a += it->idx[d] * it->in1_strides[d];
        b += it->idx[d] * it->in2_strides[d];
    }
    *o1 = a;
    *o2 = b;
    for (int d = 5; d >= 0; --d) {
        if (++it->idx[d] < it->out_shape[d]) break;
        it->idx[d] = 0;
    }
}

/* out[i] = ONE(p, in1[...], in2[...]) for every output element i: a flat
 * loop when p->broadcast is 0, else the broadcast iteration above (p has
 * broadcast, size, out_shape, in1_strides, in2_strides, as the binary
 * elementwise ops' parameter structs do). */
#define EK_BCAST_BINARY(p, in1, in2, out, ONE)                                  \
    do {                                                                        \
        if (!(p)->broadcast) {                                                  \
            for (int32_t i_ = 0; i_ < (p)->size; ++i_) {                        \
                (out)[i_] = ONE((p), (in1)[i_], (in2)[i_]);                     \
            }                                                                   \
            break;                                                              \
        }                                                                       \
        ek_bcast_iter it_;                                                      \
        ek_bcast_init(&it_, (p)->out_shape, (p)->in1_strides, (p)->in2_strides); \
        for (int32_t i_ = 0; i_ < (p)->size; ++i_) {                            \
            int32_t o1_, o2_;                                                   \
            ek_bcast_step(&it_, &o1_, &o2_);                                    \
            (out)[i_] = ONE((p), (in1)[o1_], (in2)[o2_]);                       \
        }                                                                       \
    } while (0)

#endif /* EK_BROADCAST_H */
