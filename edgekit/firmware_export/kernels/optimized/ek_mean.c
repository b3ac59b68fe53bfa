/* edgekit: MEAN over a contiguous block of axes, int8 (TFLM's quantized
 * mean: integer sum, zero-point correction, one requantization whose
 * multiplier already holds 1/count).
 *
 * Optimized version of kernels/ek_mean.c: same function, same results bit
 * for bit.  The input is [outer, reduce, inner]; the sums take four int8 per
 * 32-bit load into 16-bit lanes (ek_opt_lanes.h), flushed into 32-bit sums
 * every EKL_MAX_COUNT words:
 *   - inner >= 4 (e.g. a global average over H, W): eight, then four
 *     channels per row (one or two words), the reduce axis walked with stride
 *     `inner`, the last inner % 4 channels one at a time;
 *   - inner == 1 (the last axis): four consecutive elements per word, the
 *     four lane sums added, then the reduce % 4 last elements;
 *   - inner 2 or 3: the plain loop.
 * The requantization is ekopt_rq (ek_opt_requant.h), prepared once.
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_opt_lanes.h"

/* Adds the four byte-lane sums of `count` words at p, p + stride, ... to s. */
static __attribute__((noinline)) void ekm_sum4(const int8_t *p, int32_t count, int32_t stride, int32_t s[4]) {
    while (count > 0) {
        const int32_t n = count < EKL_MAX_COUNT ? count : EKL_MAX_COUNT;
        int32_t a02 = 0, a13 = 0;
        count -= n;
        for (int32_t k = n; k > 0; --k) {
            const int32_t v = ekopt_ld4(p);
            EKL_ACC(a02, a13, v);
            p += stride;
        }
        s[0] += EKL_LO(a02, n);
        s[1] += EKL_LO(a13, n);
        s[2] += EKL_HI(a02, n);
        s[3] += EKL_HI(a13, n);
    }
}

/* Eight channels: the lane sums of two words per row, `count` rows. */
static __attribute__((noinline)) void ekm_sum8(const int8_t *p, int32_t count, int32_t stride, int32_t s[8]) {
    while (count > 0) {
        const int32_t n = count < EKL_MAX_COUNT ? count : EKL_MAX_COUNT;
        int32_t a02 = 0, a13 = 0, b02 = 0, b13 = 0;
        count -= n;
        for (int32_t k = n; k > 0; --k) {
            const int32_t v0 = ekopt_ld4(p), v1 = ekopt_ld4(p + 4);
            EKL_ACC(a02, a13, v0);
            EKL_ACC(b02, b13, v1);
            p += stride;
        }
        s[0] += EKL_LO(a02, n);
        s[1] += EKL_LO(a13, n);
        s[2] += EKL_HI(a02, n);
        s[3] += EKL_HI(a13, n);
        s[4] += EKL_LO(b02, n);
        s[5] += EKL_LO(b13, n);
        s[6] += EKL_HI(b02, n);
        s[7] += EKL_HI(b13, n);
    }
}

/* The requantization, prepared once per call: ekopt_rq (== ek_mbqm) when
 * its shift range allows, else ek_mbqm itself. */
typedef struct {
    ekopt_rq q;
    int32_t fast, corr, out_zp, mult, shift;
} ekm_rq;

static __attribute__((noinline)) int8_t ekm_out(const ekm_rq *r, int32_t sum) {
    sum -= r->corr;
    const int32_t v = r->fast ? ekopt_rq_apply(sum, &r->q) : ek_mbqm(sum, r->mult, r->shift);
    return (int8_t)ek_clamp32(v + r->out_zp, -128, 127);
}

void ek_mean_s8(const ek_mean_params *p, const int8_t *in, int8_t *out) {
    const int32_t R = p->reduce, I = p->inner;
    ekm_rq rq;
    rq.fast = ekopt_rq_ok(&p->mult, &p->shift, 1);
    rq.q = ekopt_rq_make(p->mult, p->shift);
    rq.corr = p->in_zp * R;
    rq.out_zp = p->out_zp;
    rq.mult = p->mult;
    rq.shift = p->shift;
    for (int32_t o = 0; o < p->outer; ++o, in += (int64_t)R * I, out += I) {
        int32_t i = 0;
        if (I == 1) {
            int32_t s[4] = {0, 0, 0, 0};
            ekm_sum4(in, R / 4, 4, s);
            int32_t sum = s[0] + s[1] + s[2] + s[3];
            for (int32_t r = R & ~3; r < R; ++r) sum += in[r];
            out[0] = ekm_out(&rq, sum);
            continue;
        }
        for (; i + 8 <= I; i += 8) {
            int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            ekm_sum8(in + i, R, I, s);
            for (int32_t k = 0; k < 8; ++k) out[i + k] = ekm_out(&rq, s[k]);
        }
        for (; i + 4 <= I; i += 4) {
            int32_t s[4] = {0, 0, 0, 0};
            ekm_sum4(in + i, R, I, s);
            for (int32_t k = 0; k < 4; ++k) out[i + k] = ekm_out(&rq, s[k]);
        }
        for (; i < I; ++i) {
            int32_t sum = 0;
            for (int32_t r = 0; r < R; ++r) sum += in[(int64_t)r * I + i];
            out[i] = ekm_out(&rq, sum);
        }
    }
}
