/* edgekit: FULLY_CONNECTED (and 1x1 CONV_2D), and the one-column depthwise
 * convolution over time of the LMU memory (ek_spike_dw_s8, at the end), over a
 * spike tensor, event-driven.
 *
 * Every input is one of two int8 codes (passes/spike_sparse.py proves it from
 * the graph), so the dense sum over d of (w[u][d] + 0) * (x[d] + in_offset)
 * splits into a constant, the off code's contribution over all inputs (folded
 * into `bias` at export time, ops/spike_fc.py), and delta = on - off times the
 * sum of the weights of the active inputs.  Each row of the input first lists
 * its active inputs (their weight rows in wt, the weights transposed to
 * [accum, units]); each unit then adds those rows' int8 weights.  On cores
 * with the DSP extension eight units at a time: each word of four weights is
 * added, sign-extended, to two pairs of int16 lanes by two SXTAB16 (exact: at
 * most 255 rows of int8 per lane, |sum| <= 32640, then flushed to int32).
 * The active inputs of four codes are found from one word (ek_spike_rows).  The requantization is the dense kernel's
 * (ek_mbqm), or with fast_rq the same value from one rounding high product
 * (ek_rq_x2; the generator checks that every value stays within int32); with
 * fast_rq, at most 255 active rows and DSP, each block of eight units is
 * requantized as soon as it is summed (ek_spike_fc_block8_rq,
 * ek_spike_dw_block8_rq). */
#include <string.h>

#include "ek_kernels.h"
#include "ek_fixedpoint.h"

#if defined(__ARM_FEATURE_DSP)
static inline uint32_t ek_spike_word(const int8_t *w) {
    uint32_t v;
    memcpy(&v, w, 4);
    return v;
}

/* acc + the sign-extended bytes 0, 2 (lo) or 1, 3 (hi) of w, as halfwords. */
static inline int32_t ek_spike_lo(int32_t acc, uint32_t w) {
    int32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(acc), "r"(w));
    return r;
}
static inline int32_t ek_spike_hi(int32_t acc, uint32_t w) {
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(w));
    return r;
}

/* s8[j]: the sum over at most 255 active rows (col + rows[k]) of their
 * j-th weight, j < 8 (two int16 lanes a word: exact without a flush). */
static inline __attribute__((always_inline)) void
ek_spike_sum8(const int8_t *col, const int32_t *rows, int32_t n, int32_t *s8) {
    int32_t a02 = 0, a13 = 0, a46 = 0, a57 = 0;
    for (int32_t k = 0; k < n; ++k) {
        const int8_t *r = col + rows[k];
        const uint32_t w0 = ek_spike_word(r), w1 = ek_spike_word(r + 4);
        a02 = ek_spike_lo(a02, w0);
        a13 = ek_spike_hi(a13, w0);
        a46 = ek_spike_lo(a46, w1);
        a57 = ek_spike_hi(a57, w1);
    }
    s8[0] = (int16_t)a02;
    s8[1] = (int16_t)a13;
    s8[2] = a02 >> 16;
    s8[3] = a13 >> 16;
    s8[4] = (int16_t)a46;
    s8[5] = (int16_t)a57;
    s8[6] = a46 >> 16;
    s8[7] = a57 >> 16;
}

/* Sums over the active rows of the weights of units u..u+7 (sums[u + j]). */
static void ek_spike_fc_block8(const int8_t *col, const int32_t *rows, int32_t n,
                               int32_t *sums) {
    int32_t t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int32_t k = 0; k < n; k += 255) {     /* at most 255 rows per int16 lane */
        int32_t s8[8];
        ek_spike_sum8(col, rows + k, n - k > 255 ? 255 : n - k, s8);
#pragma GCC unroll 8
        for (int32_t j = 0; j < 8; ++j) t[j] += s8[j];
    }
#pragma GCC unroll 8
    for (int32_t j = 0; j < 8; ++j) sums[j] = t[j];
}

/* One output of the fast requantization, for act_max 127: ek_rq_x2(2 * acc, m,
 * add, rsh) is the output code - act_min (add holds -act_min << rsh), so the
 * clamp is USAT (at act_min), then SSAT (at 127); the rounding of a negative
 * product by the sign of 2 * acc (the same value: they differ only when the
 * product rounds to 0, and then both give the zero point, rsh >= 1). */
static inline int8_t ek_spike_rq1(int32_t x2, int32_t m, int32_t add, int32_t rsh,
                                  int32_t lo) {
    const int32_t r = (ek_mlahr(x2, m, add) + (x2 >> 31)) >> rsh;
    return (int8_t)ek_sat8(ek_usat8(r) + lo);
}

/* Units u..u+7 of one row, at most 255 active rows (the int16 lanes are
 * exact without a flush): sums of the active rows' weights, requantized at
 * once (fast_rq); the per-tensor constants are locals (kept in registers
 * across the int8 stores), per channel they are read for each unit. */
static inline __attribute__((always_inline)) void
ek_spike_fc_block8_rq(const ek_spike_fc_params *p, const int8_t *col, const int32_t *rows,
                      int32_t n, int32_t u, int8_t *y, const int per_channel) {
    int32_t s8[8];
    ek_spike_sum8(col, rows, n, s8);
    const int32_t d2 = 2 * p->delta, lo = p->act_min;
    if (per_channel) {              /* rows of four per unit */
        const int32_t *const q = p->chan + 4 * u;
#pragma GCC unroll 8
        for (int32_t k = 0; k < 8; ++k) {
            y[k] = ek_spike_rq1(q[4 * k] + d2 * s8[k], q[4 * k + 1], q[4 * k + 2],
                                q[4 * k + 3], lo);
        }
        return;
    }
    const int32_t *const b = p->bias + u;
    const int32_t m0 = p->mult[0], a0 = p->rq_add[0], r0 = p->shift[0];
#pragma GCC unroll 8
    for (int32_t k = 0; k < 8; ++k) y[k] = ek_spike_rq1(b[k] + d2 * s8[k], m0, a0, r0, lo);
}

/* The depthwise layer's eight outputs c0..c0+7 of one row from their active
 * taps (at most 255), requantized at once (fast_rq): the channels' rows of
 * four constants (bias, multiplier, rounding add, right shift). */
static inline __attribute__((always_inline)) void
ek_spike_dw_block8_rq(const ek_spike_dw_params *p, const int8_t *col, const int32_t *rows,
                      int32_t n, int32_t c0, int8_t *y) {
    int32_t s8[8];
    ek_spike_sum8(col, rows, n, s8);
    const int32_t d2 = 2 * p->delta, lo = p->act_min;
    const int32_t *const q = p->chan + 4 * c0;
#pragma GCC unroll 8
    for (int32_t k = 0; k < 8; ++k) {
        y[k] = ek_spike_rq1(q[4 * k] + d2 * s8[k], q[4 * k + 1], q[4 * k + 2], q[4 * k + 3], lo);
    }
}
#endif

/* The active inputs of one row (x[d] == on: every other input is at the off
 * code), as offsets d * units of their weight rows; returns their count.
 * A word of four inputs at a time: `bit` is one bit where the two codes
 * differ, so (v ^ ~on4) & bit4 marks the bytes at the on code; its set bits
 * are taken lowest first (count trailing zeros). */
static int32_t ek_spike_rows(const int8_t *x, int32_t accum, int32_t units, int8_t on,
                             int8_t off, int32_t *rows) {
    int32_t n = 0, d = 0;
    const uint32_t diff = (uint8_t)on ^ (uint8_t)off;
    const uint32_t bit4 = 0x01010101u * (diff & (0u - diff));   /* lowest differing bit */
    const uint32_t non4 = ~(0x01010101u * (uint8_t)on);
    for (; d + 4 <= accum; d += 4) {
        uint32_t v;
        memcpy(&v, x + d, 4);
        uint32_t m = (v ^ non4) & bit4;
        while (m) {
            rows[n++] = (d + (__builtin_ctz(m) >> 3)) * units;
            m &= m - 1;
        }
    }
    for (; d < accum; ++d) {
        rows[n] = d * units;
        n += x[d] == on;
    }
    return n;
}

/* out[u] from sums[u] for the units u0.., as the dense kernel requantizes acc[u]. */
static void ek_spike_fc_requant(const ek_spike_fc_params *p, const int32_t *sums, int8_t *y,
                                int32_t u0) {
    const int32_t units = p->units, delta = p->delta, lo = p->act_min, hi = p->act_max;
    const int32_t *const bias = p->bias, *const mult = p->mult, *const shift = p->shift;
    const int32_t step = p->per_channel ? 1 : 0;
    if (p->fast_rq && p->per_channel) {
        for (int32_t u = u0; u < units; ++u) {
            const int32_t *const q = p->chan + 4 * u;
            const int32_t r = ek_rq_x2(q[0] + 2 * delta * sums[u], q[1], q[2], q[3]) + lo;
            y[u] = (int8_t)(r < lo ? lo : (r > hi ? hi : r));
        }
        return;
    }
    if (p->fast_rq) {
        const int32_t *const add = p->rq_add;
        for (int32_t u = u0, c = u0 * step; u < units; ++u, c += step) {
            const int32_t x2 = bias[u] + 2 * delta * sums[u];
            const int32_t r = ek_rq_x2(x2, mult[c], add[c], shift[c]) + lo;
            y[u] = (int8_t)(r < lo ? lo : (r > hi ? hi : r));
        }
        return;
    }
    for (int32_t u = u0, c = u0 * step; u < units; ++u, c += step) {
        const int32_t acc = bias[u] + delta * sums[u];
        const int32_t r = ek_mbqm(acc, mult[c], shift[c]) + p->out_offset;
        y[u] = (int8_t)ek_clamp32(r, lo, hi);
    }
}

void ek_spike_fc_s8(const ek_spike_fc_params *p, const int8_t *in, const int8_t *wt,
                    int8_t *out, int8_t *scratch) {
    const int32_t accum = p->accum, units = p->units;
    int32_t *const rows = (int32_t *)(void *)scratch;
    int32_t *const sums = rows + accum;
    const int8_t on = (int8_t)p->on_code, off = (int8_t)(p->on_code - p->delta);
    /* the eight-unit blocks requantize their sums at once (DSP, fast_rq, at most
     * 255 inputs); the other units go through sums[] */
#if defined(__ARM_FEATURE_DSP)
    const int blocks_rq = p->fast_rq && accum <= 255 && p->act_max == 127;
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        const int32_t n = ek_spike_rows(in + (int64_t)b * accum, accum, units, on, off, rows);
        int8_t *const y = out + (int64_t)b * units;
        int32_t u = 0;
#if defined(__ARM_FEATURE_DSP)
        if (blocks_rq && p->per_channel) {
            for (; u + 8 <= units; u += 8) ek_spike_fc_block8_rq(p, wt + u, rows, n, u, y + u, 1);
        } else if (blocks_rq) {
            for (; u + 8 <= units; u += 8) ek_spike_fc_block8_rq(p, wt + u, rows, n, u, y + u, 0);
        }
        const int32_t u0 = u;       /* units requantized already */
        for (; u + 8 <= units; u += 8) ek_spike_fc_block8(wt + u, rows, n, sums + u);
#else
        const int32_t u0 = 0;
#endif
        for (; u < units; ++u) {
            const int8_t *col = wt + u;
            int32_t s = 0;
            for (int32_t k = 0; k < n; ++k) s += col[rows[k]];
            sums[u] = s;
        }
        ek_spike_fc_requant(p, sums, y, u0);
    }
}

/* Outputs c0 .. c0 + n - 1 of the event-driven depthwise layer from their sums
 * of active weights, requantized as ek_spike_fc_requant does; the channels'
 * constants are rows of four (one pointer: the loop keeps its registers). */
static void ek_spike_dw_rq(const ek_spike_dw_params *p, const int32_t *sums, int8_t *y,
                           int32_t c0, int32_t n) {
    const int32_t delta = p->delta, lo = p->act_min, hi = p->act_max;
    const int32_t *q = p->chan + 4 * c0;
    if (p->fast_rq) {
        for (int32_t u = 0; u < n; ++u, q += 4) {
            const int32_t r = ek_rq_x2(q[0] + 2 * delta * sums[u], q[1], q[2], q[3]) + lo;
            y[u] = (int8_t)(r < lo ? lo : (r > hi ? hi : r));
        }
        return;
    }
    for (int32_t u = 0; u < n; ++u, q += 4) {
        const int32_t r = ek_mbqm(q[0] + delta * sums[u], q[1], q[2]) + p->out_offset;
        y[u] = (int8_t)ek_clamp32(r, lo, hi);
    }
}

/* The event-driven depthwise convolution over time (ek_kernels.h).  Each input
 * channel's active rows are listed once (ascending); for output row t the
 * active taps of channel j are its listed rows in [t, t + k), found from a
 * start that only moves forward.  A window without an active tap gives every
 * channel of j its output for a zero sum (requantized once per call, `zero`);
 * otherwise each active tap adds the M weights w[h - t][j*M ..] of its tap
 * (eight at a time in int16 lanes by SXTAB16 on DSP cores, exact: at most 255
 * taps, flushed before) and the M outputs are requantized at once. */
void ek_spike_dw_s8(const ek_spike_dw_params *p, const int8_t *in, const int8_t *w,
                    int8_t *out, int8_t *scratch) {
    const int32_t in_h = p->in_h, in_c = p->in_c, m = p->depth_mult, k = p->k;
    const int32_t pad = p->pad;         /* rows in front of in, all at the off code */
    const int32_t units = p->units;
    int32_t *const sums = (int32_t *)(void *)scratch;
    int32_t *const rows = sums + units;
    uint16_t *const count = (uint16_t *)(void *)(rows + k);
    uint16_t *const start = count + in_c;
    uint16_t *const act = start + in_c;
    int8_t *const zero = (int8_t *)(act + in_c * in_h);
    const int8_t on = (int8_t)p->on_code;
    memset(sums, 0, (size_t)units * sizeof(int32_t));
    ek_spike_dw_rq(p, sums, zero, 0, units);
    for (int32_t j = 0; j < in_c; ++j) {
        uint16_t *const a = act + j * in_h;
        int32_t n = 0;
        for (int32_t h = pad; h < in_h; ++h) {
            a[n] = (uint16_t)h;
            n += in[(h - pad) * in_c + j] == on;
        }
        count[j] = (uint16_t)n;
        start[j] = 0;
    }
    for (int32_t t = 0; t < p->out_h; ++t) {
        int8_t *const y = out + t * units;
        for (int32_t j = 0; j < in_c; ++j) {
            const uint16_t *const a = act + j * in_h;
            const int32_t cnt = count[j];
            int32_t q = start[j];
            while (q < cnt && a[q] < t) ++q;
            start[j] = (uint16_t)q;
            int32_t n = 0;
            for (; q < cnt && a[q] < t + k; ++q) rows[n++] = (a[q] - t) * units;
            const int32_t c0 = j * m;
            if (n == 0) {
                memcpy(y + c0, zero + c0, (size_t)m);
                continue;
            }
            const int8_t *const col = w + c0;
            int32_t u = 0;
#if defined(__ARM_FEATURE_DSP)
            if (m == 8 && p->fast_rq && n <= 255 && p->act_max == 127) {  /* the LMU memory */
                ek_spike_dw_block8_rq(p, col, rows, n, c0, y + c0);
                continue;
            }
            for (; u + 8 <= m; u += 8) ek_spike_fc_block8(col + u, rows, n, sums + u);
#endif
            for (; u < m; ++u) {
                int32_t acc = 0;
                for (int32_t r = 0; r < n; ++r) acc += col[u + rows[r]];
                sums[u] = acc;
            }
            ek_spike_dw_rq(p, sums, y + c0, c0, m);
        }
    }
}
