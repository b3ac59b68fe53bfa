/* edgekit: the column path of the optimized CONV_2D's six-pixel im2col (DSP cores).
 *
 * A part of kernels/optimized/ek_conv.c, kept apart for the file's size:
 * ek_conv.c includes it once, after ek_conv_dsp6.h (ekopt_dsp6_channels,
 * ekopt_col_words) and inside its EKOPT_DSP section; no other file includes
 * it.  ops/conv.py (cols_ok, cols_bytes) mirrors its conditions and sizes.
 *
 * Small windows whose filter rows are not whole 4-byte chunks (one, three,
 * five input channels: K = f_h * f_w * in_c of 9, 27, 45 bytes) cost the
 * six-pixel path more in the gather of each window (a few bytes per filter
 * row, the padding handled pixel by pixel) than in its MACs.  Here the
 * input rows one output row reads are copied once into `t`, column by
 * column: column j holds, for filter rows fy = 0 .. f_h - 1, the in_c bytes
 * of input pixel (iy0 + fy, j - pad_w), the input zero point for a tap in
 * the padding (which the input offset brings to 0, as skipping it does).
 * The window of output pixel ox is then the f_w columns from ox * stride_w
 * on: f_h * f_w * in_c contiguous bytes, in the order (fx, fy, ic), widened
 * into a slot of the six-pixel buffer a word at a time (ekopt_col_words).
 * The filter is read in the same order from a copy made once per call on
 * the stack (its rows k4 = K rounded up to 4 bytes apart, zeros past K, so
 * the bytes a window's last word takes from the next column add nothing),
 * by the six-pixel asm channel loop (ekopt_dsp6_channels).
 *
 * Conditions (ekopt_cols_ok): the six-pixel path's (ekopt_dsp6_ok, >= 6
 * output pixels), a bias, every right shift within 1..22 (the asm channel
 * loop), no dilation, not 1x1, rows f_w * in_c not whole chunks, k4 <= EKOPT_COLS_K,
 * out_c <= EKOPT_COLS_C and out_c * k4 <= EKOPT_COLS_W (the constants and
 * the filter copy, on the stack), output rows of >= 6 pixels (a group
 * of six spans two rows at most).  Buffer: the six-pixel one (12 * k4
 * bytes), then two rows' columns (ekopt_cols_bytes). */
#ifndef EK_CONV_COLS_H
#define EK_CONV_COLS_H

#if EKOPT_USE(EKOPT_CONV_SIX_COLS) && EKOPT_USE(EKOPT_CONV_SIX_CH)
/* ekopt_dsp6_channels's fused requantization of one output (r4 = clo,
 * r5 = rs1, r6 = mult, r8 = chi; x, t0, t1 scratch). */
#define EKOPT_COLS_RQ(A)                                                        \
    "and    %[x], %[" A "], #0x80000000\n\t"                                    \
    "adds   %[t0], r4, %[x]\n\t"                                                \
    "adc    %[t1], r8, %[" A "], asr #31\n\t"                                   \
    "smlal  %[t0], %[t1], %[" A "], r6\n\t"                                     \
    "asr    %[t1], %[t1], r5\n\t"                                               \
    "ssat   %[" A "], #8, %[t1]\n\t"
/* c bytes from s to d, or the zero point (s NULL), exactly c bytes. */
static inline __attribute__((always_inline)) void
ekopt_cols_put(int8_t *d, const int8_t *s, int32_t c, uint32_t zpw) {
    int32_t j = 0;
    for (; j + 4 <= c; j += 4) ekopt_st4(d + j, s ? ekopt_ld4(s + j) : (int32_t)zpw);
    if (c & 2) {
        uint16_t h = (uint16_t)zpw;
        if (s) memcpy(&h, s + j, 2);
        memcpy(d + j, &h, 2);
        j += 2;
    }
    if (c & 1) d[j] = s ? s[j] : (int8_t)zpw;
}

/* One filter row's columns: ncol columns of c bytes, `slot` bytes apart
 * from d on: pad zero points, then n from the input row x (NULL: the row
 * is in the padding, all zero points), then zero points. */
static inline __attribute__((always_inline)) void
ekopt_cols_line(int8_t *d, const int8_t *x, int32_t c, int32_t slot, int32_t pad, int32_t n,
                int32_t ncol, uint32_t zpw) {
    int32_t j = 0;
    if (x) {
        for (; j < pad; ++j, d += slot) ekopt_cols_put(d, 0, c, zpw);
        for (const int32_t e = pad + n; j < e; ++j, d += slot, x += c) ekopt_cols_put(d, x, c, zpw);
    }
    for (; j < ncol; ++j, d += slot) ekopt_cols_put(d, 0, c, zpw);
}

/* The columns of output row oy of image b into t (see above), from filter
 * row fy0 on: those before hold the right bytes already. */
static __attribute__((noinline)) void
ekopt_cols_row(const ek_conv_params *p, const int8_t *in, int8_t *t, int32_t b, int32_t oy,
               int32_t fy0, uint32_t zpw) {
    const int32_t c = p->in_c, slot = p->f_h * c;
    const int32_t ncol = (p->out_w - 1) * p->stride_w + p->f_w;
    /* Columns pad_w .. pad_w + n - 1 come from input columns 0 .. n - 1. */
    const int32_t pad = ek_min32(p->pad_w, ncol);
    const int32_t n = ek_max32(0, ek_min32(p->in_w, ncol - pad));
    const int32_t iy0 = oy * p->stride_h - p->pad_h, in_row = p->in_w * c;
    const int8_t *img = in + (int64_t)b * p->in_h * in_row;
    for (int32_t fy = fy0; fy < p->f_h; ++fy) {
        const int32_t iy = iy0 + fy;
        const int8_t *x = iy >= 0 && iy < p->in_h ? img + (int64_t)iy * in_row : 0;
        int8_t *d = t + fy * c;
        /* The common channel counts with their copies unrolled. */
        switch (c) {
        case 1: ekopt_cols_line(d, x, 1, slot, pad, n, ncol, zpw); break;
        case 3: ekopt_cols_line(d, x, 3, slot, pad, n, ncol, zpw); break;
        default: ekopt_cols_line(d, x, c, slot, pad, n, ncol, zpw); break;
        }
    }
}

/* The columns of the next output row (oy + 1, stride_h < f_h) into t from
 * those of row oy in u: each column's filter rows moved up by stride_h (all
 * of u moved down by stride_h * in_c bytes, a word at a time: the bytes a
 * column takes from the next one are the filter rows it lacks), then the
 * last stride_h filter rows read. */
static __attribute__((noinline)) void
ekopt_cols_next(const ek_conv_params *p, const int8_t *in, int8_t *t, const int8_t *u, int32_t b,
                int32_t oy, uint32_t zpw) {
    const int32_t sh = p->stride_h * p->in_c;
    const int32_t ncol = (p->out_w - 1) * p->stride_w + p->f_w;
    const int32_t n = ncol * p->f_h * p->in_c - sh;
    for (int32_t j = 0; j < n; j += 4) ekopt_st4(t + j, ekopt_ld4(u + j + sh));
    ekopt_cols_row(p, in, t, b, oy, p->f_h - p->stride_h, zpw);
}

/* Six windows of kc words (from x[0..6)) into the six slots of buf (chunks
 * 12 words apart), plus the input offset. */
static __attribute__((noinline)) void
ekopt_cols_widen6(int32_t *w, const int8_t *const *x, int32_t kc, int32_t off2) {
    const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5];
    for (int32_t j = 0; j < 4 * kc; j += 4, w += 12) {
        int32_t v = ekopt_ld4(x0 + j);
        w[0] = __sxtab16(off2, v); w[1] = ekopt_sxtab16_hi(off2, v);
        v = ekopt_ld4(x1 + j);
        w[2] = __sxtab16(off2, v); w[3] = ekopt_sxtab16_hi(off2, v);
        v = ekopt_ld4(x2 + j);
        w[4] = __sxtab16(off2, v); w[5] = ekopt_sxtab16_hi(off2, v);
        v = ekopt_ld4(x3 + j);
        w[6] = __sxtab16(off2, v); w[7] = ekopt_sxtab16_hi(off2, v);
        v = ekopt_ld4(x4 + j);
        w[8] = __sxtab16(off2, v); w[9] = ekopt_sxtab16_hi(off2, v);
        v = ekopt_ld4(x5 + j);
        w[10] = __sxtab16(off2, v); w[11] = ekopt_sxtab16_hi(off2, v);
    }
}

/* All out_c channels of one group of six pixels: ekopt_dsp6_channels's
 * asm loop (a bias, right shifts of 1..22, filter rows of whole chunks)
 * with each channel's requantization constants made once per call, in
 * rec (five words a channel: clo, rs1, mult, chi of ekopt_rq2_make with
 * the output offset folded, then the bias): one LDM instead of their
 * derivation per group. */
static __attribute__((noinline)) void
ekopt_cols_channels(const int32_t *buf, const int32_t *end, int32_t entry, const int8_t *w,
                    const int32_t *rec, int32_t out_c, int8_t *y, int32_t ys) {
    const int32_t *xb = buf, *xe = end, *rp = rec;
    const int32_t n = entry;
    const int32_t yst[2] = {ys, 2 * ys};
    int8_t *yv = y, *const ye = y + out_c;
    int32_t s0, s1, s2, s3, s4, s5, t0, t1;
    const int32_t *x;
    __asm__ volatile("1:\n\t"
                     "ldr    %[t0], %[rp]\n\t"
                     "ldr    %[x], %[xb]\n\t"
                     "ldr    %[a0], [%[t0], #16]\n\t"
                     "ldr    %[t1], %[n]\n\t"
                     "mov    %[a1], %[a0]\n\t"
                     "mov    %[a2], %[a0]\n\t"
                     "mov    %[a3], %[a0]\n\t"
                     "mov    %[a4], %[a0]\n\t"
                     "mov    %[a5], %[a0]\n\t"
                     "tbh    [pc, %[t1], lsl #1]\n\t"
                     "2:\n\t"
                     ".hword (11f - 2b) / 2, (12f - 2b) / 2, (13f - 2b) / 2, (14f - 2b) / 2\n\t"
                     ".hword (15f - 2b) / 2, (16f - 2b) / 2, (17f - 2b) / 2, (18f - 2b) / 2\n\t"
                     "11:\n\t" EKOPT_MK6_CHUNK
                     "12:\n\t" EKOPT_MK6_CHUNK
                     "13:\n\t" EKOPT_MK6_CHUNK
                     "14:\n\t" EKOPT_MK6_CHUNK
                     "15:\n\t" EKOPT_MK6_CHUNK
                     "16:\n\t" EKOPT_MK6_CHUNK
                     "17:\n\t" EKOPT_MK6_CHUNK
                     "18:\n\t" EKOPT_MK6_CHUNK
                     "ldr    %[t0], %[e]\n\t"
                     "cmp    %[x], %[t0]\n\t"
                     "bne    11b\n\t"
                     /* r4 = clo, r5 = rs1, r6 = mult, r8 = chi */
                     "ldr    %[t0], %[rp]\n\t"
                     "ldmia  %[t0]!, {r4, r5, r6, r8}\n\t"
                     "add    %[t0], %[t0], #4\n\t"
                     "str    %[t0], %[rp]\n\t"
                     EKOPT_COLS_RQ("a0") EKOPT_COLS_RQ("a1") EKOPT_COLS_RQ("a2")
                     EKOPT_COLS_RQ("a3") EKOPT_COLS_RQ("a4") EKOPT_COLS_RQ("a5")
                     /* t0 = y, t1 = ys, x = 2 ys, r5 = y + ys, r4 = y + 4 ys */
                     "ldr    %[t0], %[yv]\n\t"
                     "ldrd   %[t1], %[x], %[yst]\n\t"
                     "add    r4, %[t0], %[x], lsl #1\n\t"
                     "add    r5, %[t0], %[t1]\n\t"
                     "strb   %[a1], [%[t0], %[t1]]\n\t"
                     "strb   %[a2], [%[t0], %[x]]\n\t"
                     "strb   %[a3], [r5, %[x]]\n\t"
                     "strb   %[a4], [r4]\n\t"
                     "strb   %[a5], [r4, %[t1]]\n\t"
                     "strb   %[a0], [%[t0]], #1\n\t"
                     "str    %[t0], %[yv]\n\t"
                     "ldr    %[t1], %[ye]\n\t"
                     "cmp    %[t0], %[t1]\n\t"
                     "bne    1b\n\t"
                     : [a0] "=&r"(s0), [a1] "=&r"(s1), [a2] "=&r"(s2), [a3] "=&r"(s3),
                       [a4] "=&r"(s4), [a5] "=&r"(s5), [x] "=&r"(x), [w] "+r"(w),
                       [t0] "=&r"(t0), [t1] "=&r"(t1), [rp] "+m"(rp), [yv] "+m"(yv)
                     : [e] "m"(xe), [n] "m"(n), [xb] "m"(xb), [ye] "m"(ye), [yst] "m"(yst)
                     : "r4", "r5", "r6", "r8", "cc", "memory");
}

/* buf: the six-pixel buffer (12 * k4 bytes), then two column buffers
 * (ekopt_cols_bytes). */
static __attribute__((noinline)) void
ekopt_conv_cols6(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                 const int32_t *bias, int8_t *out, int32_t *buf) {
    const int32_t c = p->in_c, K = p->f_h * p->f_w * c, k4 = (K + 3) & ~3, kc = k4 >> 2;
    const int32_t ys = p->out_c, slot = p->f_h * c, step = p->stride_w * slot;
    int8_t *const t = (int8_t *)(void *)(buf + 3 * k4);
    const int32_t off2 = ekopt_off2(p->in_offset);
    const uint32_t zpw = (uint8_t)(-p->in_offset) * 0x01010101u;
    const int32_t npix = p->batches * p->out_h * p->out_w;
    const int32_t *const end6 = buf + kc * 12, entry8 = (8 - (kc & 7)) & 7;
    /* The filter in the columns' order (fx, fy, ic), rows k4 bytes apart
     * (arrays sized to the layer: out_c * k4 <= EKOPT_COLS_W, out_c <=
     * EKOPT_COLS_C). */
    int32_t wq[ys * kc];
    int8_t *const wk = (int8_t *)(void *)wq;
    for (int32_t oc = 0; oc < ys; ++oc) {
        const int8_t *f = filter + (int64_t)oc * K;
        int8_t *d = wk + oc * k4;
        ekopt_st4(d + k4 - 4, 0);
        for (int32_t fy = 0; fy < p->f_h; ++fy) {
            for (int32_t fx = 0; fx < p->f_w; ++fx) {
                int8_t *e = d + (fx * p->f_h + fy) * c;
                for (int32_t j = 0; j < c; ++j) e[j] = *f++;
            }
        }
    }
    /* Each channel's requantization constants and bias (ekopt_cols_channels). */
    int32_t rec[5 * ys];
    for (int32_t oc = 0; oc < ys; ++oc) {
        const ekopt_rq2 q = ekopt_rq2_make(p->mult[oc], p->shift[oc], p->out_offset);
        int32_t *const r = rec + 5 * oc;
        r[0] = (int32_t)q.clo; r[1] = q.rs1; r[2] = q.mult; r[3] = q.chi; r[4] = bias[oc];
    }
    int8_t tmp[6 * ys];    /* the last, partial group's outputs */
    /* Two column buffers, output row r's in t + (r & 1) * tb: a group of six
     * pixels spans at most two rows (out_w >= 6). */
    const int32_t tb = (((p->out_w - 1) * p->stride_w + p->f_w) * slot + 3) & ~3;
    int32_t ox = 0, oy = 0, b = 0;   /* the next pixel */
    int8_t *cur = t + tb;            /* the buffer of the current row */
    const int8_t *xp = t, *x[6];
    for (int32_t done = 0; done < npix;) {
        /* The last, partial group moved back to end at the last pixel: its
         * first `skip` pixels (done already) neither stored nor widened
         * anew (their slots take the first new pixel's window). */
        const int32_t i = done + 6 > npix ? npix - 6 : done, skip = done - i;
        done = i + 6;
        for (int32_t s = skip; s < 6; ++s) {
            if (ox == 0) {
                /* A new output row: its columns from those of the row
                 * before (same image) when the strides let it, else read
                 * whole; rows alternate between the two buffers. */
                int8_t *const tr = cur == t ? t + tb : t;
                if (oy && p->stride_h < p->f_h) {
                    ekopt_cols_next(p, in, tr, cur, b, oy, zpw);
                } else {
                    ekopt_cols_row(p, in, tr, b, oy, 0, zpw);
                }
                xp = cur = tr;
            }
            x[s] = xp;
            xp += step;
            if (++ox == p->out_w) {
                ox = 0;
                if (++oy == p->out_h) { oy = 0; ++b; }
            }
        }
        for (int32_t s = 0; s < skip; ++s) x[s] = x[skip];
        ekopt_cols_widen6(buf, x, kc, off2);
        int8_t *const yg = out + (int64_t)i * ys;
        ekopt_cols_channels(buf, end6, entry8, wk, rec, ys, skip ? tmp : yg, ys);
        if (skip) memcpy(yg + skip * ys, tmp + skip * ys, (size_t)((6 - skip) * ys));
    }
}
#undef EKOPT_COLS_RQ
#endif /* EKOPT_USE(EKOPT_CONV_SIX_COLS) && EKOPT_USE(EKOPT_CONV_SIX_CH) */

#endif /* EK_CONV_COLS_H */
