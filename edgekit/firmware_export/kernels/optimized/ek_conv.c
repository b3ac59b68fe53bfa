/* edgekit: CONV_2D, int8 activations, int8 per-channel filters, int32 bias.
 *
 * Optimized version of kernels/ek_conv.c: same function, same results bit
 * for bit.  The int32 accumulator is an exact (wrapping) sum of products, so
 * the order of summation is free; requantization and clamping per output
 * give ek_mbqm's values (ekopt_rq_apply, or ekopt_rq2: one SMLAL).
 *
 * On cores with the DSP extension (no groups, no dilation), by window size
 * K = f_h * f_w * in_c:
 *   - K <= 288, >= 6 output pixels, activation range all of int8 and every
 *     channel in ekopt_rq2's range: six-pixel im2col (int16, input offset
 *     added) + 6x1 asm micro-kernel, 18 instructions per 24 MACs
 *     (ekopt_conv_dsp6); the input zero point is not folded into the bias
 *     offline: widening the input once per pixel adds it for free;
 *   - else K <= 576: two-pixel im2col + 2x2 asm micro-kernel
 *     (ekopt_conv_dsp);
 *   - else the run-based path below, with SXTAB16/SMLAD intrinsics.
 * The im2col buffer is the call's scratch memory (Lowered.scratch, sized
 * by ops/conv.py for the path the layer takes).  1x1 convolutions with
 * stride 1, no padding and out_c <= in_c may run in place (out == in):
 * every path reads a pixel group's inputs before it writes outputs over
 * them (the DSP paths widen a group into the buffer first; the plain-C
 * pair path and the reference fallback go through scratch).
 *
 * Run-based path (no groups, no dilation; every path on cores without DSP):
 *   - the filter window of an output pixel, clipped to the input, is a few
 *     contiguous runs: one per filter row, (fx1 - fx0) * in_c bytes long in
 *     both the input (NHWC) and the filter (OHWI);
 *   - each run is consumed by a register-blocked dot product computing two
 *     output pixels x two output channels at once (1 x 2 for a lone
 *     pixel), so every input word and filter word loaded feeds two
 *     multiply-accumulates per byte;
 *   - on cores with the DSP extension (Cortex-M4/M7/M33/M55) four int8 are
 *     loaded as one word, split in two halfword pairs with SXTB16 (the
 *     input offset is added in the same instruction by SXTAB16), and
 *     accumulated two products at a time by SMLAD.  Other cores (and the
 *     host build) run the same blocking in plain C.
 *   - 1x1 convolutions without padding are a matrix product: output pixels
 *     are paired in raster order, across row ends too.
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_conv_ref.h"

/* s[0] += xa.wa, s[1] += xa.wb, s[2] += xb.wa, s[3] += xb.wb over n bytes,
 * each x byte plus the input offset. */
static inline void ekopt_dot_2x2(const int8_t *xa, const int8_t *xb, const int8_t *wa,
                                 const int8_t *wb, int32_t n, int32_t off, int32_t off2,
                                 int32_t *s) {
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
#if EKOPT_DSP
    for (int32_t k = n >> 2; k > 0; --k) {
        const int32_t a = ekopt_ld4(xa), b = ekopt_ld4(xb);
        const int32_t a02 = __sxtab16(off2, a), a13 = __sxtab16(off2, ekopt_ror8(a));
        const int32_t b02 = __sxtab16(off2, b), b13 = __sxtab16(off2, ekopt_ror8(b));
        int32_t w = ekopt_ld4(wa);
        int32_t w02 = __sxtb16(w), w13 = __sxtb16(ekopt_ror8(w));
        s0 = __smlad(a02, w02, s0);
        s0 = __smlad(a13, w13, s0);
        s2 = __smlad(b02, w02, s2);
        s2 = __smlad(b13, w13, s2);
        w = ekopt_ld4(wb);
        w02 = __sxtb16(w);
        w13 = __sxtb16(ekopt_ror8(w));
        s1 = __smlad(a02, w02, s1);
        s1 = __smlad(a13, w13, s1);
        s3 = __smlad(b02, w02, s3);
        s3 = __smlad(b13, w13, s3);
        xa += 4; xb += 4; wa += 4; wb += 4;
    }
    n &= 3;
#else
    (void)off2;
#endif
    for (int32_t i = 0; i < n; ++i) {
        const int32_t a = xa[i] + off, b = xb[i] + off;
        s0 += a * wa[i];
        s1 += a * wb[i];
        s2 += b * wa[i];
        s3 += b * wb[i];
    }
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
}

/* s[0] += x.wa, s[1] += x.wb over n bytes (one output pixel). */
static inline void ekopt_dot_1x2(const int8_t *x, const int8_t *wa, const int8_t *wb,
                                 int32_t n, int32_t off, int32_t off2, int32_t *s) {
    int32_t s0 = s[0], s1 = s[1];
#if EKOPT_DSP
    for (int32_t k = n >> 2; k > 0; --k) {
        const int32_t a = ekopt_ld4(x);
        const int32_t a02 = __sxtab16(off2, a), a13 = __sxtab16(off2, ekopt_ror8(a));
        const int32_t u = ekopt_ld4(wa), v = ekopt_ld4(wb);
        s0 = __smlad(a02, __sxtb16(u), s0);
        s0 = __smlad(a13, __sxtb16(ekopt_ror8(u)), s0);
        s1 = __smlad(a02, __sxtb16(v), s1);
        s1 = __smlad(a13, __sxtb16(ekopt_ror8(v)), s1);
        x += 4; wa += 4; wb += 4;
    }
    n &= 3;
#else
    (void)off2;
#endif
    for (int32_t i = 0; i < n; ++i) {
        const int32_t a = x[i] + off;
        s0 += a * wa[i];
        s1 += a * wb[i];
    }
    s[0] = s0; s[1] = s1;
}

static inline int8_t ekopt_out(const ek_conv_params *p, int32_t acc, const ekopt_rq *q) {
    return (int8_t)ek_clamp32(ekopt_rq_apply(acc, q) + p->out_offset, p->act_min, p->act_max);
}

/* Two output pixels whose clipped windows have the same shape: xa and xb
 * point at the first input byte of each window (row fy0, column fx0), the
 * window has `rows` runs of `run` bytes, `in_row` bytes apart in the input
 * and `f_row` bytes apart in the filter; filter points at fy0, fx0 of
 * output channel 0.  ya and yb receive out_c outputs each. */
static void ekopt_conv_pair(const ek_conv_params *p, const int8_t *xa, const int8_t *xb,
                            const int8_t *filter, int32_t rows, int32_t run, int32_t in_row,
                            int32_t f_row, const int32_t *bias, int8_t *ya, int8_t *yb) {
    const int32_t fsz = p->f_h * p->f_w * p->f_in_c;
    const int32_t off = p->in_offset, off2 = ekopt_off2(off);
    for (int32_t oc = 0; oc < p->out_c; oc += 2) {
        /* Odd out_c: the last channel is computed twice, stored once. */
        const int32_t oc1 = oc + 1 < p->out_c ? oc + 1 : oc;
        const int8_t *wa = filter + (int64_t)oc * fsz, *wb = filter + (int64_t)oc1 * fsz;
        int32_t s[4];
        s[0] = s[2] = bias ? bias[oc] : 0;
        s[1] = s[3] = bias ? bias[oc1] : 0;
        const int8_t *ra = xa, *rb = xb;
        for (int32_t r = 0; r < rows; ++r) {
            ekopt_dot_2x2(ra, rb, wa, wb, run, off, off2, s);
            ra += in_row; rb += in_row; wa += f_row; wb += f_row;
        }
        const ekopt_rq q0 = ekopt_rq_make(p->mult[oc], p->shift[oc]);
        ya[oc] = ekopt_out(p, s[0], &q0);
        yb[oc] = ekopt_out(p, s[2], &q0);
        if (oc1 != oc) {
            const ekopt_rq q1 = ekopt_rq_make(p->mult[oc1], p->shift[oc1]);
            ya[oc1] = ekopt_out(p, s[1], &q1);
            yb[oc1] = ekopt_out(p, s[3], &q1);
        }
    }
}

/* One output pixel (same window description as ekopt_conv_pair). */
static void ekopt_conv_one(const ek_conv_params *p, const int8_t *x, const int8_t *filter,
                           int32_t rows, int32_t run, int32_t in_row, int32_t f_row,
                           const int32_t *bias, int8_t *y) {
    const int32_t fsz = p->f_h * p->f_w * p->f_in_c;
    const int32_t off = p->in_offset, off2 = ekopt_off2(off);
    for (int32_t oc = 0; oc < p->out_c; oc += 2) {
        const int32_t oc1 = oc + 1 < p->out_c ? oc + 1 : oc;
        const int8_t *wa = filter + (int64_t)oc * fsz, *wb = filter + (int64_t)oc1 * fsz;
        int32_t s[2];
        s[0] = bias ? bias[oc] : 0;
        s[1] = bias ? bias[oc1] : 0;
        const int8_t *r0 = x;
        for (int32_t r = 0; r < rows; ++r) {
            ekopt_dot_1x2(r0, wa, wb, run, off, off2, s);
            r0 += in_row; wa += f_row; wb += f_row;
        }
        const ekopt_rq q0 = ekopt_rq_make(p->mult[oc], p->shift[oc]);
        y[oc] = ekopt_out(p, s[0], &q0);
        if (oc1 != oc) {
            const ekopt_rq q1 = ekopt_rq_make(p->mult[oc1], p->shift[oc1]);
            y[oc1] = ekopt_out(p, s[1], &q1);
        }
    }
}

/* 1x1 filter, no padding: each output pixel reads in_c contiguous bytes.
 * With tmp (2 * out_c bytes; in place: stride 1, out_c <= in_c) each pair
 * of outputs is computed there and copied over the two input pixels it
 * has just read (output pixel i lies over input pixels <= i only). */
static void ekopt_conv_1x1(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                           const int32_t *bias, int8_t *out, int8_t *tmp) {
    const int32_t c = p->in_c;
    const int32_t npix = p->out_h * p->out_w;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *img = in + (int64_t)b * p->in_h * p->in_w * c;
        int8_t *y = out + (int64_t)b * npix * p->out_c;
        int32_t oy = 0, ox = 0;
        const int8_t *xa = 0;
        for (int32_t i = 0; i < npix; ++i) {
            const int8_t *x = img + ((int64_t)oy * p->stride_h * p->in_w + (int64_t)ox * p->stride_w) * c;
            if (++ox == p->out_w) { ox = 0; ++oy; }
            if (i & 1) {
                int8_t *ya = y + (int64_t)(i - 1) * p->out_c;
                ekopt_conv_pair(p, xa, x, filter, 1, c, 0, 0, bias, tmp ? tmp : ya,
                                tmp ? tmp + p->out_c : ya + p->out_c);
                if (tmp) memcpy(ya, tmp, (size_t)(2 * p->out_c));
            } else if (i + 1 == npix) {
                int8_t *ya = y + (int64_t)i * p->out_c;
                ekopt_conv_one(p, x, filter, 1, c, 0, 0, bias, tmp ? tmp : ya);
                if (tmp) memcpy(ya, tmp, (size_t)p->out_c);
            } else {
                xa = x;
            }
        }
    }
}

#if EKOPT_DSP
/* ---- Cortex-M DSP path: two-pixel im2col + 2x2 SMLAD micro-kernel ----
 *
 * For each pair of output pixels (raster order over the whole output, so
 * pairs may straddle rows), the two input windows are unrolled once into a
 * stack buffer of int16 values x + in_offset (0 where the window hangs
 * over the padding, which is exactly what skipping those taps does).  The
 * window index k runs over (fy, fx, ic), the order of one filter row in
 * OHWI, so the filter of output channel oc is simply K contiguous bytes.
 *
 * Layout: chunk j (k = 4j .. 4j+3) is four words
 *     [a02, a13, b02, b13]    a = first pixel, b = second pixel
 * with a02 = (v[4j] | v[4j+2] << 16) and a13 = (v[4j+1] | v[4j+3] << 16):
 * the pairing that SXTB16 of a filter word and of its rotation by 8 gives,
 * so one LDM fetches a chunk for both pixels and each filter word costs one
 * LDR + two SXTB16 and feeds four SMLADs (eight MACs).  The unrolling costs
 * O(K) per pixel pair and is shared by all output channels. */

#define EKOPT_KMAX 576  /* window size limit of the 2-pixel path */

/* Convert n bytes (n a multiple of 4) x[0..n) plus the input offset into
 * the halfword pairs of slot s from chunk 0 (one LDR, two SXTAB16 each). */
static inline void ekopt_col_words(int32_t *w, int32_t nsl, const int8_t *x, int32_t n,
                                   int32_t off2) {
    for (int32_t j = 0; j < n; j += 4, w += 2 * nsl) {
        const int32_t v = ekopt_ld4(x + j);
        w[0] = __sxtab16(off2, v);
        w[1] = __sxtab16(off2, ekopt_ror8(v));
    }
}

/* Unroll the window of output pixel (b, oy, ox) into slot s: K values
 * x + in_offset, then 0 up to the end of the last chunk.  A tap in the
 * padding is 0 too (skipping it, as the reference does, adds nothing). */
static void ekopt_col_pixel(const ek_conv_params *p, const int8_t *in, int32_t *buf, int8_t *win,
                            int32_t nsl, int32_t s, int32_t b, int32_t oy, int32_t ox,
                            int32_t off, int32_t off2) {
    const int32_t c = p->in_c, f_row = p->f_w * c, in_row = p->in_w * c;
    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    const int32_t fx0 = ek_max32(0, -ix0), fx1 = ek_max32(fx0, ek_min32(p->f_w, p->in_w - ix0));
    const int8_t *img = in + ((int64_t)b * p->in_h * p->in_w + ix0 + fx0) * c;
    int32_t *w = buf + s * 2;
    if (fx0 == 0 && fx1 == p->f_w && (f_row & 3) == 0 && iy0 >= 0 && iy0 + p->f_h <= p->in_h) {
        /* Whole window inside the input, rows of whole chunks (1x1
         * convolutions, and e.g. 10x4 windows on one channel). */
        const int8_t *x = img + (int64_t)iy0 * in_row;
        for (int32_t fy = 0; fy < p->f_h; ++fy, x += in_row, w += (f_row >> 1) * nsl) {
            ekopt_col_words(w, nsl, x, f_row, off2);
        }
        return;
    }
    const int32_t lo = fx0 * c, hi = fx1 * c;
    if ((f_row & 3) == 0) {
        /* Rows of whole chunks over the padding: a row outside the input
         * is zeros; in a row, a chunk inside [lo, hi) is one word, one
         * across its ends is put together byte by byte, the bytes outside
         * given the input zero point (-off), which the offset brings to 0. */
        const int8_t zp = (int8_t)(-off);
        const uint32_t zpw = (uint8_t)zp * 0x01010101u;
        for (int32_t fy = 0; fy < p->f_h; ++fy) {
            const int32_t iy = iy0 + fy;
            if (iy < 0 || iy >= p->in_h) {
                for (int32_t j = 0; j < f_row; j += 4, w += 2 * nsl) w[0] = w[1] = 0;
                continue;
            }
            const int8_t *x = img + (int64_t)iy * in_row - lo;
            for (int32_t j = 0; j < f_row; j += 4, w += 2 * nsl) {
                int32_t v;
                if (j + 4 <= lo || j >= hi) {
                    w[0] = w[1] = 0;    /* all in the padding */
                    continue;
                }
                if (j >= lo && j + 4 <= hi) {
                    v = ekopt_ld4(x + j);
                } else if (j < lo && lo < j + 4 && j + 4 <= hi && in_row >= 4) {
                    /* Over the left edge only: the row's first word moved
                     * up, zero points below (x + lo is the row start). */
                    const int32_t sh = 8 * (lo - j);
                    v = (int32_t)(((uint32_t)ekopt_ld4(x + lo) << sh) | (zpw >> (32 - sh)));
                } else if (j >= lo && j < hi && hi < j + 4 && in_row >= 4) {
                    /* Over the right edge only: the row's last word moved
                     * down, zero points above (x + hi is the row end). */
                    const int32_t sh = 8 * (j + 4 - hi);
                    v = (int32_t)(((uint32_t)ekopt_ld4(x + hi - 4) >> sh) | (zpw << (32 - sh)));
                } else {
                    uint32_t u = 0;
                    for (int32_t k = 3; k >= 0; --k) {
                        u = (u << 8) | (uint8_t)(j + k >= lo && j + k < hi ? x[j + k] : zp);
                    }
                    v = (int32_t)u;
                }
                w[0] = __sxtab16(off2, v);
                w[1] = __sxtab16(off2, ekopt_ror8(v));
            }
        }
        return;
    }
    /* Otherwise (rows that are not whole chunks): the window as
     * contiguous bytes first, in win (K rounded up to 4 bytes, after the
     * im2col buffer in scratch), padding and round-up filled with the zero
     * point. */
    const int8_t zp = (int8_t)(-off);
    const int32_t K = p->f_h * f_row, run = hi - lo;
    int8_t *d = win;
    for (int32_t fy = 0; fy < p->f_h; ++fy) {
        const int32_t iy = iy0 + fy;
        if (iy < 0 || iy >= p->in_h) {
            for (int32_t j = 0; j < f_row; ++j) *d++ = zp;
            continue;
        }
        const int8_t *x = img + (int64_t)iy * in_row;
        for (int32_t j = 0; j < lo; ++j) *d++ = zp;
        for (int32_t j = 0; j < run; ++j) *d++ = x[j];
        for (int32_t j = hi; j < f_row; ++j) *d++ = zp;
    }
    for (int32_t j = K; j & 3; ++j) *d++ = zp;
    ekopt_col_words(w, nsl, win, (K + 3) & ~3, off2);
}

/* One chunk of the 2x2 micro-kernel: s0 += a.wa, s1 += a.wb, s2 += b.wa,
 * s3 += b.wb (16 MACs in 16 instructions). */
#define EKOPT_MK_CHUNK                                                          \
    "ldmia  %[x]!, {r4, r5, r6, r8}\n\t"                                        \
    "ldr    %[t0], [%[wa]], #4\n\t"                                             \
    "sxtb16 %[t1], %[t0], ror #8\n\t"                                           \
    "sxtb16 %[t0], %[t0]\n\t"                                                   \
    "smlad  %[a0], r4, %[t0], %[a0]\n\t"                                        \
    "smlad  %[a0], r5, %[t1], %[a0]\n\t"                                        \
    "smlad  %[a2], r6, %[t0], %[a2]\n\t"                                        \
    "smlad  %[a2], r8, %[t1], %[a2]\n\t"                                        \
    "ldr    %[t0], [%[wb]], #4\n\t"                                             \
    "sxtb16 %[t1], %[t0], ror #8\n\t"                                           \
    "sxtb16 %[t0], %[t0]\n\t"                                                   \
    "smlad  %[a1], r4, %[t0], %[a1]\n\t"                                        \
    "smlad  %[a1], r5, %[t1], %[a1]\n\t"                                        \
    "smlad  %[a3], r6, %[t0], %[a3]\n\t"                                        \
    "smlad  %[a3], r8, %[t1], %[a3]\n\t"

/* All `chunks` chunks, two per loop trip.  Every general register is
 * needed, so the end pointer lives in memory and is reloaded into a
 * temporary for the loop test. */
static inline void ekopt_mk_2x2(const int32_t *x, const int8_t *wa, const int8_t *wb,
                                int32_t chunks, int32_t *s) {
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    int32_t t0, t1;
    if (chunks & 1) {
        __asm__ volatile(EKOPT_MK_CHUNK
                         : [a0] "+r"(s0), [a1] "+r"(s1), [a2] "+r"(s2), [a3] "+r"(s3),
                           [x] "+r"(x), [wa] "+r"(wa), [wb] "+r"(wb), [t0] "=&r"(t0),
                           [t1] "=&r"(t1)
                         :
                         : "r4", "r5", "r6", "r8", "memory");
    }
    if (chunks >> 1) {
        const int32_t *volatile end = x + 4 * (chunks & ~1);
        __asm__ volatile("1:\n\t"
                         EKOPT_MK_CHUNK
                         EKOPT_MK_CHUNK
                         "ldr    %[t0], %[e]\n\t"
                         "cmp    %[x], %[t0]\n\t"
                         "bne    1b\n\t"
                         : [a0] "+r"(s0), [a1] "+r"(s1), [a2] "+r"(s2), [a3] "+r"(s3),
                           [x] "+r"(x), [wa] "+r"(wa), [wb] "+r"(wb), [t0] "=&r"(t0),
                           [t1] "=&r"(t1)
                         : [e] "m"(end)
                         : "r4", "r5", "r6", "r8", "cc", "memory");
    }
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
}

/* buf: (K rounded up to 4) / 4 chunks of 4 words (EKOPT_KMAX words at most),
 * then K rounded up to 4 bytes for ekopt_col_pixel's win when a filter row
 * (f_w * in_c) is not a multiple of 4 bytes. */
static void ekopt_conv_dsp(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                           const int32_t *bias, int8_t *out, int32_t *buf) {
    const int32_t K = p->f_h * p->f_w * p->in_c;
    const int32_t chunks = K >> 2, tail = K & 3;
    int8_t *win = (int8_t *)(void *)(buf + 2 * 2 * ((K + 3) >> 2));
    const int32_t off = p->in_offset, off2 = ekopt_off2(off);
    const int32_t npix = p->batches * p->out_h * p->out_w;
    int32_t b = 0, oy = 0, ox = 0;
    for (int32_t i = 0; i < npix; i += 2) {
        /* Unroll pixels i and i + 1 (a lone last pixel goes in both slots). */
        for (int32_t s = 0; s < 2; ++s) {
            ekopt_col_pixel(p, in, buf, win, 2, s, b, oy, ox, off, off2);
            if (i + s + 1 < npix) {
                if (++ox == p->out_w) {
                    ox = 0;
                    if (++oy == p->out_h) { oy = 0; ++b; }
                }
            }
        }
        int8_t *ya = out + (int64_t)i * p->out_c;
        int8_t *yb = i + 1 < npix ? ya + p->out_c : ya;
        for (int32_t oc = 0; oc < p->out_c; oc += 2) {
            /* Odd out_c: the last channel is computed twice, stored once. */
            const int32_t oc1 = oc + 1 < p->out_c ? oc + 1 : oc;
            const int8_t *wa = filter + (int64_t)oc * K, *wb = filter + (int64_t)oc1 * K;
            int32_t s[4];
            s[0] = s[2] = bias ? bias[oc] : 0;
            s[1] = s[3] = bias ? bias[oc1] : 0;
            ekopt_mk_2x2(buf, wa, wb, chunks, s);
            int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
            if (tail) {
                /* Last partial chunk: filter bytes gathered one by one (no
                 * read past the filter), missing ones zero. */
                const int32_t *x = buf + chunks * 4;
                const int8_t *ta = wa + chunks * 4, *tb = wb + chunks * 4;
                const int32_t a0 = (uint16_t)ta[0] | (tail > 2 ? (int32_t)((uint32_t)ta[2] << 16) : 0);
                const int32_t a1 = tail > 1 ? (uint16_t)ta[1] : 0;
                const int32_t b0 = (uint16_t)tb[0] | (tail > 2 ? (int32_t)((uint32_t)tb[2] << 16) : 0);
                const int32_t b1 = tail > 1 ? (uint16_t)tb[1] : 0;
                s0 = __smlad(x[0], a0, __smlad(x[1], a1, s0));
                s2 = __smlad(x[2], a0, __smlad(x[3], a1, s2));
                s1 = __smlad(x[0], b0, __smlad(x[1], b1, s1));
                s3 = __smlad(x[2], b0, __smlad(x[3], b1, s3));
            }
            const ekopt_rq q0 = ekopt_rq_make(p->mult[oc], p->shift[oc]);
            ya[oc] = ekopt_out(p, s0, &q0);
            yb[oc] = ekopt_out(p, s2, &q0);
            if (oc1 != oc) {
                const ekopt_rq q1 = ekopt_rq_make(p->mult[oc1], p->shift[oc1]);
                ya[oc1] = ekopt_out(p, s1, &q1);
                yb[oc1] = ekopt_out(p, s3, &q1);
            }
        }
    }
}

/* ---- Six-pixel path: im2col of 6 output pixels + 6x1 SMLAD micro-kernel ----
 *
 * Same buffer scheme with six slots: chunk j is twelve words
 *     [a02, a13, b02, b13, c02, c13, d02, d13, e02, e13, f02, f13]
 * so one filter word (LDR + two SXTB16) feeds twelve SMLADs (24 MACs) and
 * the pixels' halfword pairs come in with three LDMs of four words: 18
 * instructions per 24 MACs, against 15 per 16 for the 2x2 block above
 * (which extends two filter words per chunk).  The micro-kernel takes all
 * 14 allocatable registers (the loop end lives in memory).  The six
 * outputs of a channel share that channel's requantization constants
 * (ekopt_rq2: five instructions per output, output offset included up to
 * right shifts of 22) and are clamped by SSAT: layers with a narrower
 * activation range or a channel outside ekopt_rq2's range take the
 * 2-pixel path. */
#define EKOPT_P6_WORDS 864  /* buffer words (3,456 bytes): K <= 288 */

#define EKOPT_MK6_PAIR(A, B)                                                    \
    "ldmia  %[x]!, {r4, r5, r6, r8}\n\t"                                        \
    "smlad  %[" A "], r4, %[t0], %[" A "]\n\t"                                  \
    "smlad  %[" A "], r5, %[t1], %[" A "]\n\t"                                  \
    "smlad  %[" B "], r6, %[t0], %[" B "]\n\t"                                  \
    "smlad  %[" B "], r8, %[t1], %[" B "]\n\t"
#define EKOPT_MK6_CHUNK                                                         \
    "ldr    %[t0], [%[w]], #4\n\t"                                              \
    "sxtb16 %[t1], %[t0], ror #8\n\t"                                           \
    "sxtb16 %[t0], %[t0]\n\t"                                                   \
    EKOPT_MK6_PAIR("a0", "a1") EKOPT_MK6_PAIR("a2", "a3") EKOPT_MK6_PAIR("a4", "a5")
#define EKOPT_MK6_OPS                                                           \
    : [a0] "+r"(s0), [a1] "+r"(s1), [a2] "+r"(s2), [a3] "+r"(s3), [a4] "+r"(s4), \
      [a5] "+r"(s5), [x] "+r"(x), [w] "+r"(w), [t0] "=&r"(t0), [t1] "=&r"(t1)

/* s[0..6) += pixel 0..5 . filter row w over all chunks of x, which ends
 * at *end (at least one chunk): four chunks per loop trip, the first trip
 * entered part-way (TBB on *entry = (4 - chunks % 4) % 4).  Every register
 * is taken, so the loop bounds live in memory. */
static inline __attribute__((always_inline)) void
ekopt_mk_6x1(const int32_t *x, const int8_t *w, const int32_t *const *end, const int32_t *entry,
             int32_t *s) {
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4], s5 = s[5], t0, t1;
    __asm__ volatile("ldr    %[t0], %[n]\n\t"
                     "tbb    [pc, %[t0]]\n\t"
                     "2:\n\t"
                     ".byte  (3f - 2b) / 2, (4f - 2b) / 2, (5f - 2b) / 2, (6f - 2b) / 2\n\t"
                     "3:\n\t" EKOPT_MK6_CHUNK
                     "4:\n\t" EKOPT_MK6_CHUNK
                     "5:\n\t" EKOPT_MK6_CHUNK
                     "6:\n\t" EKOPT_MK6_CHUNK
                     "ldr    %[t0], %[e]\n\t"
                     "cmp    %[x], %[t0]\n\t"
                     "bne    3b\n\t"
                     EKOPT_MK6_OPS
                     : [e] "m"(*end), [n] "m"(*entry)
                     : "r4", "r5", "r6", "r8", "cc", "memory");
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3; s[4] = s4; s[5] = s5;
}

/* Six output bytes: y, y + ys, y + ys2, y3, y3 + ys, y3 + ys2 (y3 = y + ys + ys2). */
static inline __attribute__((always_inline)) void
ekopt_st6(int8_t *y, int8_t *y3, int32_t ys, int32_t ys2, int32_t v0, int32_t v1, int32_t v2,
          int32_t v3, int32_t v4, int32_t v5) {
    __asm__ volatile("strb   %[v0], [%[y]]\n\t"
                     "strb   %[v1], [%[y], %[ys]]\n\t"
                     "strb   %[v2], [%[y], %[ys2]]\n\t"
                     "strb   %[v3], [%[y3]]\n\t"
                     "strb   %[v4], [%[y3], %[ys]]\n\t"
                     "strb   %[v5], [%[y3], %[ys2]]\n\t"
                     :
                     : [y] "r"(y), [y3] "r"(y3), [ys] "r"(ys), [ys2] "r"(ys2), [v0] "r"(v0),
                       [v1] "r"(v1), [v2] "r"(v2), [v3] "r"(v3), [v4] "r"(v4), [v5] "r"(v5)
                     : "memory");
}

/* Every channel requantizes with ekopt_rq2 and the activation range is
 * all of int8 (SSAT): the conditions of ekopt_conv_dsp6. */
static int ekopt_dsp6_ok(const ek_conv_params *p) {
    if (p->act_min != -128 || p->act_max != 127 || p->out_offset < -128 || p->out_offset > 127) {
        return 0;
    }
    for (int32_t oc = 0; oc < p->out_c; ++oc) {
        if (!ekopt_rq2_ok(p->mult[oc], p->shift[oc])) return 0;
    }
    return 1;
}

/* All out_c channels of one whole group of six pixels in one asm block
 * (the common case: K % 4 == 0, a bias, every right shift within 1..22 so
 * that ekopt_rq2 folds the output offset): per channel the bias into six
 * accumulators, the micro-kernel of ekopt_mk_6x1 (the filter pointer
 * runs on from row to row), the six fused requantizations (constants made
 * from the channel's multiplier and shift: rs1 = -shift - 1,
 * clo = 2^30 | 2^31 << rs1, chi = (1 + 2 zp) << rs1 >> 1, as
 * ekopt_rq2_make), SSAT and six stores.  The loop's state lives in this
 * frame (SP-relative operands): every register is taken. */
static __attribute__((noinline)) void
ekopt_dsp6_channels(const int32_t *buf, const int32_t *end, int32_t entry, const int8_t *w,
                    const int32_t *bias, const int32_t *mult, const int32_t *shift,
                    int32_t out_c, int8_t *y, int32_t ys, int32_t zp) {
    const int32_t *xb = buf, *xe = end, *cp = mult, *ce = mult + out_c;
    const int32_t n = entry, c21 = 1 + 2 * zp;
    const int32_t dsh = (int32_t)((const char *)shift - (const char *)mult);
    const int32_t dbi = (int32_t)((const char *)bias - (const char *)mult);
    const int32_t yst[2] = {ys, 2 * ys};
    int8_t *yv = y;
    int32_t s0, s1, s2, s3, s4, s5, t0, t1;
    const int32_t *x;
    __asm__ volatile("1:\n\t"
                     "ldr    %[t0], %[cp]\n\t"
                     "ldr    %[t1], %[dbi]\n\t"
                     "ldr    %[a0], [%[t0], %[t1]]\n\t"
                     "mov    %[a1], %[a0]\n\t"
                     "mov    %[a2], %[a0]\n\t"
                     "mov    %[a3], %[a0]\n\t"
                     "mov    %[a4], %[a0]\n\t"
                     "mov    %[a5], %[a0]\n\t"
                     "ldr    %[x], %[xb]\n\t"
                     "ldr    %[t0], %[n]\n\t"
                     "tbb    [pc, %[t0]]\n\t"
                     "2:\n\t"
                     ".byte  (3f - 2b) / 2, (4f - 2b) / 2, (5f - 2b) / 2, (6f - 2b) / 2\n\t"
                     "3:\n\t" EKOPT_MK6_CHUNK
                     "4:\n\t" EKOPT_MK6_CHUNK
                     "5:\n\t" EKOPT_MK6_CHUNK
                     "6:\n\t" EKOPT_MK6_CHUNK
                     "ldr    %[t0], %[e]\n\t"
                     "cmp    %[x], %[t0]\n\t"
                     "bne    3b\n\t"
                     /* r4 = clo, r5 = rs1, r6 = mult, r8 = chi */
                     "ldr    r4, %[cp]\n\t"
                     "ldr    r5, %[dsh]\n\t"
                     "ldr    r5, [r4, r5]\n\t"
                     "ldr    r6, [r4], #4\n\t"
                     "str    r4, %[cp]\n\t"
                     "mvn    r5, r5\n\t"
                     "mov    r4, #0x80000000\n\t"
                     "lsl    r4, r4, r5\n\t"
                     "orr    r4, r4, #0x40000000\n\t"
                     "ldr    r8, %[c21]\n\t"
                     "lsl    r8, r8, r5\n\t"
                     "asr    r8, r8, #1\n\t"
#define EKOPT_RQ6(A)                                                            \
                     "and    %[x], %[" A "], #0x80000000\n\t"                   \
                     "adds   %[t0], r4, %[x]\n\t"                               \
                     "adc    %[t1], r8, %[" A "], asr #31\n\t"                  \
                     "smlal  %[t0], %[t1], %[" A "], r6\n\t"                    \
                     "asr    %[t1], %[t1], r5\n\t"                              \
                     "ssat   %[" A "], #8, %[t1]\n\t"
                     EKOPT_RQ6("a0") EKOPT_RQ6("a1") EKOPT_RQ6("a2")
                     EKOPT_RQ6("a3") EKOPT_RQ6("a4") EKOPT_RQ6("a5")
#undef EKOPT_RQ6
                     "ldr    %[t0], %[yv]\n\t"
                     "ldrd   %[t1], %[x], %[yst]\n\t"
                     "strb   %[a0], [%[t0]]\n\t"
                     "strb   %[a1], [%[t0], %[t1]]\n\t"
                     "strb   %[a2], [%[t0], %[x]]\n\t"
                     "add    r4, %[t0], %[x]\n\t"
                     "add    r4, r4, %[t1]\n\t"
                     "strb   %[a3], [r4]\n\t"
                     "strb   %[a4], [r4, %[t1]]\n\t"
                     "strb   %[a5], [r4, %[x]]\n\t"
                     "add    %[t0], %[t0], #1\n\t"
                     "str    %[t0], %[yv]\n\t"
                     "ldr    %[t0], %[cp]\n\t"
                     "ldr    %[t1], %[ce]\n\t"
                     "cmp    %[t0], %[t1]\n\t"
                     "bne    1b\n\t"
                     : [a0] "=&r"(s0), [a1] "=&r"(s1), [a2] "=&r"(s2), [a3] "=&r"(s3),
                       [a4] "=&r"(s4), [a5] "=&r"(s5), [x] "=&r"(x), [w] "+r"(w),
                       [t0] "=&r"(t0), [t1] "=&r"(t1), [cp] "+m"(cp), [yv] "+m"(yv)
                     : [e] "m"(xe), [n] "m"(n), [xb] "m"(xb), [ce] "m"(ce), [dsh] "m"(dsh),
                       [dbi] "m"(dbi), [c21] "m"(c21), [yst] "m"(yst)
                     : "r4", "r5", "r6", "r8", "cc", "memory");
}

/* Needs npix >= 6 and ekopt_dsp6_ok.  buf: (K rounded up to 4) / 4 chunks
 * of 12 words (EKOPT_P6_WORDS at most), then win as for ekopt_conv_dsp.  Pixels go by groups of six in
 * raster order over the whole output (groups may straddle rows and
 * images); the last, partial group is moved back to end at the last pixel:
 * its first `skip` pixels, done by the previous group, are neither widened
 * again nor stored (their slots keep the previous group's values).  So a
 * group reads only input pixels no output has been written over yet when
 * the output lies over the input (1x1, stride 1, out_c <= in_c: outputs
 * of pixels < i + 6 cover input pixels < i + 6 only, all widened by then). */
static void ekopt_conv_dsp6(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                            const int32_t *bias, int8_t *out, int32_t *buf) {
    const int32_t K = p->f_h * p->f_w * p->in_c;
    const int32_t chunks = K >> 2, tail = K & 3;
    int8_t *win = (int8_t *)(void *)(buf + 6 * 2 * ((K + 3) >> 2));
    const int32_t off = p->in_offset, off2 = ekopt_off2(off);
    const int32_t npix = p->batches * p->out_h * p->out_w, ys = p->out_c;
    const int32_t zp = p->out_offset, ys2 = 2 * ys;
    const int32_t *end = buf + chunks * 12, entry = (4 - (chunks & 3)) & 3;
    int fast = chunks > 0 && tail == 0 && bias != 0;
    for (int32_t oc = 0; oc < ys && fast; ++oc) {
        fast = p->shift[oc] <= -1 && p->shift[oc] >= -22;
    }
    for (int32_t done = 0; done < npix;) {
        const int32_t i = done + 6 > npix ? npix - 6 : done, skip = done - i;
        done = i + 6;
        for (int32_t s = skip; s < 6; ++s) {
            const int32_t q = i + s, t = q / p->out_w;
            ekopt_col_pixel(p, in, buf, win, 6, s, t / p->out_h, t % p->out_h, q - t * p->out_w,
                            off, off2);
        }
        int8_t *y = out + (int64_t)i * ys;
        if (fast && !skip) {
            ekopt_dsp6_channels(buf, end, entry, filter, bias, p->mult, p->shift, ys, y, ys, zp);
            continue;
        }
        const int8_t *w = filter;
        for (int32_t oc = 0; oc < ys; ++oc, w += K, ++y) {
            int32_t a[6];
            a[0] = a[1] = a[2] = a[3] = a[4] = a[5] = bias ? bias[oc] : 0;
            if (chunks) ekopt_mk_6x1(buf, w, &end, &entry, a);
            if (tail) {
                /* Last partial chunk: filter bytes gathered one by one (no
                 * read past the filter), missing ones zero. */
                const int32_t *x = end;
                const int8_t *t = w + chunks * 4;
                const int32_t w0 = (uint16_t)t[0] | (tail > 2 ? (int32_t)((uint32_t)t[2] << 16) : 0);
                const int32_t w1 = tail > 1 ? (uint16_t)t[1] : 0;
                a[0] = __smlad(x[0], w0, __smlad(x[1], w1, a[0]));
                a[1] = __smlad(x[2], w0, __smlad(x[3], w1, a[1]));
                a[2] = __smlad(x[4], w0, __smlad(x[5], w1, a[2]));
                a[3] = __smlad(x[6], w0, __smlad(x[7], w1, a[3]));
                a[4] = __smlad(x[8], w0, __smlad(x[9], w1, a[4]));
                a[5] = __smlad(x[10], w0, __smlad(x[11], w1, a[5]));
            }
            const int32_t sh = p->shift[oc], zf = ekopt_rq2_zp(sh, zp);
            const ekopt_rq2 q = ekopt_rq2_make(p->mult[oc], sh, zf);
            int32_t v0 = ekopt_rq2_apply(a[0], &q), v1 = ekopt_rq2_apply(a[1], &q);
            int32_t v2 = ekopt_rq2_apply(a[2], &q), v3 = ekopt_rq2_apply(a[3], &q);
            int32_t v4 = ekopt_rq2_apply(a[4], &q), v5 = ekopt_rq2_apply(a[5], &q);
            if (zf != zp) {
                /* Right shift > 22: the offset is added here. */
                v0 += zp; v1 += zp; v2 += zp; v3 += zp; v4 += zp; v5 += zp;
            }
            if (!skip) {
                ekopt_st6(y, y + ys + ys2, ys, ys2, __ssat(v0, 8), __ssat(v1, 8), __ssat(v2, 8),
                          __ssat(v3, 8), __ssat(v4, 8), __ssat(v5, 8));
            } else {
                const int32_t v[6] = {v0, v1, v2, v3, v4, v5};
                for (int32_t s = skip; s < 6; ++s) y[s * ys] = (int8_t)__ssat(v[s], 8);
            }
        }
    }
}
#endif /* EKOPT_DSP */

/* scratch: the bytes ops/conv.py (conv_scratch) computes for the path this
 * layer takes, 4-byte aligned. */
void ek_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                  const int32_t *bias, int8_t *out, int8_t *scratch) {
    const int inplace = ek_conv_overlaps(p, in, out);
    if (p->f_in_c != p->in_c || p->dil_h != 1 || p->dil_w != 1
        || !ekopt_rq_ok(p->mult, p->shift, p->out_c)) {
        ek_conv_reference_buf(p, in, filter, bias, out, inplace ? scratch : 0);
        return;
    }
#if EKOPT_DSP
    {
        int32_t *buf = (int32_t *)(void *)scratch;
        const int32_t K = p->f_h * p->f_w * p->in_c;
        if (p->batches * p->out_h * p->out_w >= 6 && 3 * ((K + 3) & ~3) <= EKOPT_P6_WORDS
            && ekopt_dsp6_ok(p)) {
            ekopt_conv_dsp6(p, in, filter, bias, out, buf);
            return;
        }
        if (K <= EKOPT_KMAX) {
            ekopt_conv_dsp(p, in, filter, bias, out, buf);
            return;
        }
    }
#endif
    if (p->f_h == 1 && p->f_w == 1 && p->pad_h == 0 && p->pad_w == 0) {
        ekopt_conv_1x1(p, in, filter, bias, out, inplace ? scratch : 0);
        return;
    }
    const int32_t c = p->in_c;
    const int32_t in_row = p->in_w * c, f_row = p->f_w * c;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *img = in + (int64_t)b * p->in_h * in_row;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = ek_max32(0, -iy0), fy1 = ek_min32(p->f_h, p->in_h - iy0);
            const int32_t rows = fy1 - fy0;
            int8_t *yrow = out + ((int64_t)b * p->out_h + oy) * p->out_w * p->out_c;
            for (int32_t ox = 0; ox < p->out_w;) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ek_max32(0, -ix0), fx1 = ek_min32(p->f_w, p->in_w - ix0);
                if (rows <= 0 || fx1 <= fx0) {
                    /* Window entirely in the padding: bias only. */
                    ekopt_conv_one(p, img, filter, 0, 0, in_row, f_row, bias, yrow + (int64_t)ox * p->out_c);
                    ++ox;
                    continue;
                }
                const int8_t *x = img + (int64_t)(iy0 + fy0) * in_row + (int64_t)(ix0 + fx0) * c;
                const int8_t *f = filter + (int64_t)fy0 * f_row + (int64_t)fx0 * c;
                const int32_t run = (fx1 - fx0) * c;
                /* Pair with the next pixel when both windows are whole in x. */
                if (ox + 1 < p->out_w && ix0 >= 0 && ix0 + p->stride_w + p->f_w <= p->in_w) {
                    ekopt_conv_pair(p, x, x + (int64_t)p->stride_w * c, f, rows, run, in_row, f_row,
                                    bias, yrow + (int64_t)ox * p->out_c,
                                    yrow + (int64_t)(ox + 1) * p->out_c);
                    ox += 2;
                } else {
                    ekopt_conv_one(p, x, f, rows, run, in_row, f_row, bias, yrow + (int64_t)ox * p->out_c);
                    ++ox;
                }
            }
        }
    }
}
