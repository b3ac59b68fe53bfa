/* edgekit: AVERAGE_POOL_2D and MAX_POOL_2D, int8 (input and output share
 * scale and zero point, so no requantization).
 *
 * Optimized version of kernels/ek_pooling.c: same functions, same results
 * bit for bit.  The window bounds are computed once per output pixel (not
 * per channel) and the channels, contiguous in NHWC, are the inner loop,
 * four at a time from one 32-bit load:
 *   - average: two accumulators of two 16-bit lanes per 4 channels
 *     (ek_opt_lanes.h: SXTAB16 on DSP cores, biased SWAR lanes without);
 *     windows of more than EKL_MAX_COUNT pixels take a 32-bit per-channel
 *     loop.  The sum is divided with TFLM's rounding (half away from zero,
 *     truncating division).
 *   - max: with the DSP extension SSUB8 + SEL give four byte-wise maxima per
 *     instruction pair; without it one channel at a time.
 */
#include <string.h>

#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_opt_lanes.h"

typedef struct {
    const int8_t *base;   /* first window pixel, channel 0 */
    int32_t rows, cols;   /* window clipped to the input */
    int32_t row_skip;     /* bytes from the end of a window row to the next row */
    int32_t count;        /* rows * cols */
} ekp_window;

static inline ekp_window ekp_window_at(const ek_pool_params *p, const int8_t *in, int32_t b,
                                       int32_t oy, int32_t ox) {
    const int32_t iy0 = oy * p->stride_h - p->pad_h;
    const int32_t ix0 = ox * p->stride_w - p->pad_w;
    const int32_t fy0 = ek_max32(0, -iy0), fy1 = ek_min32(p->f_h, p->in_h - iy0);
    const int32_t fx0 = ek_max32(0, -ix0), fx1 = ek_min32(p->f_w, p->in_w - ix0);
    ekp_window w;
    w.rows = ek_max32(0, fy1 - fy0);
    w.cols = ek_max32(0, fx1 - fx0);
    w.count = w.rows * w.cols;
    w.base = in + (((int64_t)b * p->in_h + iy0 + fy0) * p->in_w + ix0 + fx0) * p->c;
    w.row_skip = (p->in_w - w.cols) * p->c;
    if (w.count > 0 && w.row_skip == 0) {   /* whole rows: one run of pixels */
        w.cols = w.count;
        w.rows = 1;
    }
    return w;
}

/* TFLM's rounded average of `acc` over `n` > 0 values, clamped. */
static inline int8_t ekp_avg(int32_t acc, int32_t n, int32_t lo, int32_t hi) {
    const int32_t r = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
    return (int8_t)ek_clamp32(r, lo, hi);
}

/* Sums of channels [c, c + 8) over the window (count <= EKL_MAX_COUNT). */
static void ekp_sum8(const ekp_window *w, int32_t stride, const int8_t *px, int32_t s[8]) {
    int32_t a02 = 0, a13 = 0, b02 = 0, b13 = 0;
    for (int32_t r = 0; r < w->rows; ++r) {
        for (int32_t k = w->cols; k > 0; --k) {
            const int32_t v0 = ekopt_ld4(px), v1 = ekopt_ld4(px + 4);
            EKL_ACC(a02, a13, v0);
            EKL_ACC(b02, b13, v1);
            px += stride;
        }
        px += w->row_skip;
    }
    const int32_t n = w->count;
    s[0] = EKL_LO(a02, n);
    s[1] = EKL_LO(a13, n);
    s[2] = EKL_HI(a02, n);
    s[3] = EKL_HI(a13, n);
    s[4] = EKL_LO(b02, n);
    s[5] = EKL_LO(b13, n);
    s[6] = EKL_HI(b02, n);
    s[7] = EKL_HI(b13, n);
}

/* Sums of channels [c, c + 4). */
static void ekp_sum4(const ekp_window *w, int32_t stride, const int8_t *px, int32_t s[4]) {
    int32_t a02 = 0, a13 = 0;
    for (int32_t r = 0; r < w->rows; ++r) {
        for (int32_t k = w->cols; k > 0; --k) {
            const int32_t v0 = ekopt_ld4(px);
            EKL_ACC(a02, a13, v0);
            px += stride;
        }
        px += w->row_skip;
    }
    const int32_t n = w->count;
    s[0] = EKL_LO(a02, n);
    s[1] = EKL_LO(a13, n);
    s[2] = EKL_HI(a02, n);
    s[3] = EKL_HI(a13, n);
}

/* One channel, 32-bit sum (any window size). */
static inline void ekp_avg1(const ekp_window *w, int32_t stride, int32_t c, int8_t *o,
                            int32_t lo, int32_t hi) {
    int32_t acc = 0;
    const int8_t *px = w->base + c;
    for (int32_t r = 0; r < w->rows; ++r) {
        for (int32_t k = w->cols; k > 0; --k) {
            acc += *px;
            px += stride;
        }
        px += w->row_skip;
    }
    o[c] = ekp_avg(acc, w->count, lo, hi);
}

void ek_avg_pool_s8(const ek_pool_params *p, const int8_t *in, int8_t *out) {
    const int32_t C = p->c, lo = p->act_min, hi = p->act_max;
    int8_t *o = out;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox, o += C) {
                const ekp_window w = ekp_window_at(p, in, b, oy, ox);
                int32_t c = 0;
                if (w.count <= 0) {                   /* as the reference: 0, clamped */
                    for (; c < C; ++c) o[c] = (int8_t)ek_clamp32(0, lo, hi);
                    continue;
                }
                if (w.count <= EKL_MAX_COUNT) {
                    int32_t s[8];
                    for (; c + 4 <= C; c += 4) {
                        const int wide = c + 8 <= C;
                        if (wide) {
                            ekp_sum8(&w, C, w.base + c, s);
                        } else {
                            ekp_sum4(&w, C, w.base + c, s);
                        }
                        for (int32_t k = 0; k < 4 + 4 * wide; ++k) {
                            o[c + k] = ekp_avg(s[k], w.count, lo, hi);
                        }
                        c += 4 * wide;
                    }
                }
                for (; c < C; ++c) ekp_avg1(&w, C, c, o, lo, hi);
            }
        }
    }
}

#if EKOPT_DSP
/* Byte-wise signed max and min: SSUB8 sets GE[i] where a[i] - b[i] >= 0, SEL
 * then picks a's byte there and b's elsewhere (one asm block: the GE flags
 * must not be clobbered in between). */
static inline int32_t ekp_max4(int32_t a, int32_t b) {
    int32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}
static inline int32_t ekp_min4(int32_t a, int32_t b) {
    int32_t r;
    __asm__("ssub8 %0, %2, %1\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

static inline void ekp_maxpool4(const ekp_window *w, int32_t stride, int32_t c, int8_t *o,
                                int32_t lo4, int32_t hi4) {
    int32_t m = (int32_t)0x80808080u;
    const int8_t *px = w->base + c;
    for (int32_t r = 0; r < w->rows; ++r) {
        for (int32_t k = w->cols; k > 0; --k) {
            m = ekp_max4(ekopt_ld4(px), m);
            px += stride;
        }
        px += w->row_skip;
    }
    m = ekp_min4(ekp_max4(m, lo4), hi4);
    memcpy(o + c, &m, 4);
}
#endif

static inline void ekp_maxpool1(const ekp_window *w, int32_t stride, int32_t c, int8_t *o,
                                int32_t lo, int32_t hi) {
    int32_t m = -128;
    const int8_t *px = w->base + c;
    for (int32_t r = 0; r < w->rows; ++r) {
        for (int32_t k = w->cols; k > 0; --k) {
            const int32_t v = *px;
            if (v > m) m = v;
            px += stride;
        }
        px += w->row_skip;
    }
    o[c] = (int8_t)ek_clamp32(m, lo, hi);
}

void ek_max_pool_s8(const ek_pool_params *p, const int8_t *in, int8_t *out) {
    const int32_t C = p->c, lo = p->act_min, hi = p->act_max;
#if EKOPT_DSP
    const int32_t lo4 = (int32_t)(((uint32_t)lo & 0xffu) * 0x01010101u);
    const int32_t hi4 = (int32_t)(((uint32_t)hi & 0xffu) * 0x01010101u);
#endif
    int8_t *o = out;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox, o += C) {
                const ekp_window w = ekp_window_at(p, in, b, oy, ox);
                int32_t c = 0;
#if EKOPT_DSP
                for (; c + 4 <= C; c += 4) ekp_maxpool4(&w, C, c, o, lo4, hi4);
#endif
                for (; c < C; ++c) ekp_maxpool1(&w, C, c, o, lo, hi);
            }
        }
    }
}
