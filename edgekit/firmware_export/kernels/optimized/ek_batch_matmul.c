/* edgekit: BATCH_MATMUL, int8 x int8 -> int8, both operands activations.
 *
 * Optimized version of kernels/ek_batch_matmul.c: same function, same
 * results bit for bit (exact int32 sums in any order; requantization as
 * ek_mbqm through ekopt_rq_apply).
 *
 * Per batch, the right operand's columns (any strides: adj_y or not) are
 * widened once, a block of columns at a time, into a stack buffer of
 * halfword pairs (x_k + offset, x_k+1 + offset), a column's depth rounded
 * up to even with a 0; the left operand's rows likewise, two at a time.  The
 * dot products then run on those words in 2 x 2 blocks (two rows x two
 * columns): four loads feed four SMLADs (eight MACs), SMLAD emulated in C
 * on cores without the DSP extension.  An odd last row or column is
 * computed twice and stored once.  Depths over 2 * EKBMM_MAXPAIRS, or a
 * multiplier outside ekopt_rq's range, take the reference loop. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_batch_matmul_ref.h"

#define EKBMM_MAXPAIRS 128   /* depth / 2 (rounded up) at most: two rows of 512 bytes */
#define EKBMM_COLWORDS 512   /* widened column block (2 KB) */

#if EKOPT_DSP
#define ekbmm_smlad(a, b, acc) __smlad((a), (b), (acc))
#else
static inline int32_t ekbmm_smlad(int32_t a, int32_t b, int32_t acc) {
    return acc + (int32_t)(int16_t)a * (int32_t)(int16_t)b + (a >> 16) * (b >> 16);
}
#endif

/* n values x[0], x[s], ... plus off as n2 = (n + 1) / 2 halfword pairs. */
static void ekbmm_widen(int32_t *w, const int8_t *x, int32_t s, int32_t n, int32_t off) {
    int32_t k = 0;
    for (; k + 1 < n; k += 2, x += 2 * s) {
        *w++ = (int32_t)(((uint32_t)(x[0] + off) & 0xffffu) | ((uint32_t)(x[s] + off) << 16));
    }
    if (k < n) *w = (int32_t)((uint32_t)(x[0] + off) & 0xffffu);
}

void ek_batch_matmul_s8(const ek_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *out) {
    const int32_t D = p->depth, D2 = (D + 1) >> 1, R = p->rows, C = p->cols;
    if (D2 > EKBMM_MAXPAIRS || D2 == 0 || !ekopt_rq_ok(&p->out_mult, &p->out_shift, 1)) {
        ek_batch_matmul_reference(p, lhs, rhs, out);
        return;
    }
    const ekopt_rq q = ekopt_rq_make(p->out_mult, p->out_shift);
    const int32_t zp = p->out_offset;
    const int32_t nc = ek_min32(C, EKBMM_COLWORDS / D2);
    int32_t cw[EKBMM_COLWORDS], lw[2 * EKBMM_MAXPAIRS];
    for (int32_t b = 0; b < p->batches; ++b) {
        int32_t lb, rb;
        ek_batch_matmul_offsets(p, b, &lb, &rb);
        int8_t *yb = out + (int64_t)b * R * C;
        for (int32_t j0 = 0; j0 < C; j0 += nc) {
            const int32_t n = ek_min32(nc, C - j0);
            for (int32_t j = 0; j < n; ++j) {
                ekbmm_widen(cw + j * D2, rhs + rb + (j0 + j) * p->rhs_col_stride,
                            p->rhs_depth_stride, D, p->rhs_offset);
            }
            for (int32_t i = 0; i < R; i += 2) {
                const int32_t i1 = i + 1 < R ? i + 1 : i;
                ekbmm_widen(lw, lhs + lb + i * p->lhs_row_stride, p->lhs_depth_stride, D,
                            p->lhs_offset);
                ekbmm_widen(lw + D2, lhs + lb + i1 * p->lhs_row_stride, p->lhs_depth_stride, D,
                            p->lhs_offset);
                int8_t *ya = yb + (int64_t)i * C + j0, *yc = yb + (int64_t)i1 * C + j0;
                for (int32_t j = 0; j < n; j += 2) {
                    const int32_t j1 = j + 1 < n ? j + 1 : j;
                    const int32_t *la = lw, *lc = lw + D2, *ca = cw + j * D2, *cb = cw + j1 * D2;
                    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
                    for (int32_t k = 0; k < D2; ++k) {
                        const int32_t a = la[k], c = lc[k], u = ca[k], v = cb[k];
                        s00 = ekbmm_smlad(a, u, s00);
                        s01 = ekbmm_smlad(a, v, s01);
                        s10 = ekbmm_smlad(c, u, s10);
                        s11 = ekbmm_smlad(c, v, s11);
                    }
                    /* Row i1 after row i, column j1 after column j: the
                     * duplicates (odd last row / column) store last. */
                    ya[j] = (int8_t)ek_clamp32(ekopt_rq_apply(s00, &q) + zp, -128, 127);
                    ya[j1] = (int8_t)ek_clamp32(ekopt_rq_apply(s01, &q) + zp, -128, 127);
                    yc[j] = (int8_t)ek_clamp32(ekopt_rq_apply(s10, &q) + zp, -128, 127);
                    yc[j1] = (int8_t)ek_clamp32(ekopt_rq_apply(s11, &q) + zp, -128, 127);
                }
            }
        }
    }
}
