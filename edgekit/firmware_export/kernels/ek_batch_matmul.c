/* edgekit: BATCH_MATMUL, int8 x int8 -> int8, both operands activations.
 *
 * out[b][i][j] = requant(sum_k (lhs[b][i][k] - lhs_zp) * (rhs[b][k][j] - rhs_zp))
 * with broadcast batch dims (stride 0) and adj_x / adj_y folded into the
 * element strides, so neither operand is transposed in memory.  The integer
 * sum is exact, hence the same in any order as TFLite's. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

void ek_batch_matmul_s8(const ek_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *out) {
    int32_t bi[4] = {0, 0, 0, 0};
    for (int32_t b = 0; b < p->batches; ++b) {
        int32_t lb = 0, rb = 0;
        for (int d = 0; d < 4; ++d) {
            lb += bi[d] * p->lhs_batch_stride[d];
            rb += bi[d] * p->rhs_batch_stride[d];
        }
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
        for (int d = 3; d >= 0; --d) {
            if (++bi[d] < p->batch_shape[d]) break;
            bi[d] = 0;
        }
    }
}
