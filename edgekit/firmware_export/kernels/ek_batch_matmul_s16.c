/* edgekit: BATCH_MATMUL, int16 x int16 -> int16 (TFLite 16x8: zero points
 * 0).  As ek_batch_matmul.c with a 64-bit accumulator, requantized with the
 * multiplier rounded to 16 bits (TFLite's 64-bit requantization). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

void ek_batch_matmul_s16(const ek_batch_matmul_params *p, const int16_t *lhs,
                         const int16_t *rhs, int16_t *out) {
    int32_t bi[4] = {0, 0, 0, 0};
    for (int32_t b = 0; b < p->batches; ++b) {
        int32_t lb = 0, rb = 0;
        for (int d = 0; d < 4; ++d) {
            lb += bi[d] * p->lhs_batch_stride[d];
            rb += bi[d] * p->rhs_batch_stride[d];
        }
        for (int32_t i = 0; i < p->rows; ++i) {
            const int16_t *lrow = lhs + lb + i * p->lhs_row_stride;
            for (int32_t j = 0; j < p->cols; ++j) {
                const int16_t *rcol = rhs + rb + j * p->rhs_col_stride;
                int64_t acc = 0;
                for (int32_t k = 0; k < p->depth; ++k) {
                    acc += (int64_t)((int32_t)lrow[k * p->lhs_depth_stride] *
                                     (int32_t)rcol[k * p->rhs_depth_stride]);
                }
                const int32_t r = ek_mbqm64(acc, p->out_mult, p->out_shift);
                *out++ = (int16_t)ek_clamp32(r, -32768, 32767);
            }
        }
        for (int d = 3; d >= 0; --d) {
            if (++bi[d] < p->batch_shape[d]) break;
            bi[d] = 0;
        }
    }
}
