/* edgekit: the two-pixel im2col path of the optimized CONV_2D (DSP cores),
 * and the window gather it shares with the six-pixel path.
 *
 * A part of kernels/optimized/ek_conv.c, kept apart for the file's size:
 * ek_conv.c includes it once, after ekopt_conv_1x1 and before
 * ek_conv_dsp6.h; no other file includes it. */
#ifndef EK_CONV_IM2COL_H
#define EK_CONV_IM2COL_H

#if EKOPT_CONV_DSP6 || EKOPT_CONV_DSP2
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


/* Convert n bytes (n a multiple of 4) x[0..n) plus the input offset into
 * the halfword pairs of slot s from chunk 0 (one LDR, two SXTAB16 each;
 * the rotation folded into the second).  Two words per loop trip: their
 * loads pipelined, one loop test and taken branch per 8 bytes. */
static inline void ekopt_col_words(int32_t *w, int32_t nsl, const int8_t *x, int32_t n,
                                   int32_t off2) {
    int32_t j = 0;
    for (; j + 8 <= n; j += 8, w += 4 * nsl) {
        const int32_t v0 = ekopt_ld4(x + j), v1 = ekopt_ld4(x + j + 4);
        w[0] = __sxtab16(off2, v0);
        w[1] = ekopt_sxtab16_hi(off2, v0);
        w[2 * nsl] = __sxtab16(off2, v1);
        w[2 * nsl + 1] = ekopt_sxtab16_hi(off2, v1);
    }
    if (j < n) {
        const int32_t v = ekopt_ld4(x + j);
        w[0] = __sxtab16(off2, v);
        w[1] = ekopt_sxtab16_hi(off2, v);
    }
}

#if EKOPT_CONV_DILATED
/* A dilated window (taps dil_h rows and dil_w columns apart) as contiguous
 * bytes in win, tap by tap (in_c bytes each, the input zero point for a
 * tap in the padding, and up to the end of the last chunk), then into slot
 * s of buf as ekopt_col_words does. */
static __attribute__((noinline)) void
ekopt_col_dilated(const ek_conv_params *p, const int8_t *in, int32_t *w, int8_t *win,
                  int32_t nsl, int32_t b, int32_t iy0, int32_t ix0, int32_t off, int32_t off2) {
    const int32_t c = p->in_c, K = p->f_h * p->f_w * c;
    const int8_t zp = (int8_t)(-off);
    const int8_t *img = in + (int64_t)b * p->in_h * p->in_w * c;
    int8_t *d = win;
    for (int32_t fy = 0, iy = iy0; fy < p->f_h; ++fy, iy += p->dil_h) {
        const int row_in = iy >= 0 && iy < p->in_h;
        for (int32_t fx = 0, ix = ix0; fx < p->f_w; ++fx, ix += p->dil_w, d += c) {
            if (row_in && ix >= 0 && ix < p->in_w) {
                memcpy(d, img + ((int64_t)iy * p->in_w + ix) * c, (size_t)c);
            } else {
                memset(d, zp, (size_t)c);
            }
        }
    }
    for (int32_t j = K; j & 3; ++j) *d++ = zp;
    ekopt_col_words(w, nsl, win, (K + 3) & ~3, off2);
}
#endif

/* Unroll the window of output pixel (b, oy, ox) into slot s: K values
 * x + in_offset, then 0 up to the end of the last chunk.  A tap in the
 * padding is 0 too (skipping it, as the reference does, adds nothing). */
static void ekopt_col_pixel(const ek_conv_params *p, const int8_t *in, int32_t *buf, int8_t *win,
                            int32_t nsl, int32_t s, int32_t b, int32_t oy, int32_t ox,
                            int32_t off, int32_t off2) {
#if EKOPT_CONV_DILATED
    if (p->dil_h != 1 || p->dil_w != 1) {
        ekopt_col_dilated(p, in, buf + s * 2, win, nsl, b, oy * p->stride_h - p->pad_h,
                          ox * p->stride_w - p->pad_w, off, off2);
        return;
    }
#endif
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

#endif /* EKOPT_CONV_DSP6 || EKOPT_CONV_DSP2 */

#if EKOPT_CONV_DSP2
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
static __attribute__((noinline)) void
ekopt_conv_dsp(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
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

#if EKOPT_CONV_DSP2 && EKOPT_USE(EKOPT_CONV_TWO_STACK)
/* The two-pixel path with its buffer (`words` words, at most
 * EKOPT_TWO_STACK bytes) in this function's frame only (the stack
 * high-water mark counts it, the arena does not). */
static __attribute__((noinline)) void
ekopt_conv_dsp_stack(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                     const int32_t *bias, int8_t *out, int32_t words) {
    int32_t buf[words];
    ekopt_conv_dsp(p, in, filter, bias, out, buf);
}
#endif

#endif /* EKOPT_CONV_DSP2 */

#endif /* EK_CONV_IM2COL_H */
