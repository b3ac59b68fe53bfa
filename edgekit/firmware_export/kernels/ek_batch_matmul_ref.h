/* edgekit: reference BATCH_MATMUL int8 loop, shared by kernels/ek_batch_matmul.c and its
 * optimized version (kernels/optimized/ek_batch_matmul.c, general fallback).
 *
 * out[b][i][j] = requant(sum_k (lhs[b][i][k] - lhs_zp) * (rhs[b][k][j] - rhs_zp))
 * with broadcast batch dims (stride 0) and adj_x / adj_y folded into the
 * element strides, so neither operand is transposed in memory.  The integer
 * sum is exact, hence the same in any order as TFLite's. */
#ifndef EK_BATCH_MATMUL_REF_H
#define EK_BATCH_MATMUL_REF_H

#include "ek_kernels.h"
#include "ek_fixedpoint.h"

/* Offsets of batch b's operands (batch_shape odometer, row-major). */
static inline void ek_batch_matmul_offsets(const ek_batch_matmul_params *p, int32_t b,
                                           int32_t *lb, int32_t *rb) {
    *lb = *rb = 0;
    for (int d = 3; d >= 0; --d) {
        const int32_t i = b % p->batch_shape[d];
        b /= p->batch_shape[d];
        *lb += i * p->lhs_batch_stride[d];
        *rb += i * p->rhs_batch_stride[d];
    }
}

static __attribute__((unused)) void ek_batch_matmul_reference(const ek_batch_matmul_params *p,
                                                              const int8_t *lhs, const int8_t *rhs,
                                                              int8_t *out) {
    for (int32_t b = 0; b < p->batches; ++b) {
        int32_t lb, rb;
        ek_batch_matmul_offsets(p, b, &lb, &rb);
        for (int32_t i = 0; i < p->rows; ++i) {
            const int8_t *lrow = lhs + lb + i * p->lhs_row_stride;
            for (int32_t j = 0; j < p->cols; ++j) {
                const int8_t *rcol = rhs + rb + j * p->rhs_col_stride;
                int32_t acc = 0;
                for (int32_t k = 0; k < p->depth; ++k) {
                    acc += ((int32_t)lrow[k * p->lhs_depth_stride] + p->lhs_offset) *
                           ((int32_t)rcol[k * p->rhs_depth_stride] + p->rhs_offset);
                }
                const int32_t r = ek_mbqm(acc, p->out_mult, p->out_shift) + p->out_offset;
                *out++ = (int8_t)ek_clamp32(r, -128, 127);
            }
        }
    }
}

#endif /* EK_BATCH_MATMUL_REF_H */
