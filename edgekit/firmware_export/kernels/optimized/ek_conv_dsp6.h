/* edgekit: the six-pixel path of the optimized CONV_2D (DSP cores).
 *
 * A part of kernels/optimized/ek_conv.c, kept apart for the file's size:
 * ek_conv.c includes it once, after ekopt_col_pixel and inside its
 * EKOPT_DSP section; no other file includes it. */
#ifndef EK_CONV_DSP6_H
#define EK_CONV_DSP6_H

/* Stack bytes for the last group's six pixels on the fast path (out_c <= 64).
 * EKOPT_CONV_SIX_TAIL (ek_paths.h): the asm channel loop for K % 4 != 0. */
#define EKOPT_P6_TMP 384
/* Windows up to this size (K % 4 != 0) run their last channel in asm too. */
#define EKOPT_P6_LASTK 64
/* Bytes per window in tmp when rows are not whole chunks (6 of them fit). */
#define EKOPT_P6_WIN 64
/* ---- Six-pixel path: im2col of 6 output pixels + 6x1 SMLAD micro-kernel ----
 *
 * Same buffer scheme with six slots: chunk j is twelve words
 *     [a02, a13, b02, b13, c02, c13, d02, d13, e02, e13, f02, f13]
 * so one filter word (LDR + two SXTB16) feeds twelve SMLADs (24 MACs) and
 * the pixels' halfword pairs come in with three LDMs of four words: 18
 * instructions per 24 MACs, against 15 per 16 for the 2x2 block of ek_conv.c
 * (which extends two filter words per chunk).  The micro-kernel takes all
 * 14 allocatable registers (the loop end lives in memory).  The six
 * outputs of a channel share that channel's requantization constants
 * (ekopt_rq2: five instructions per output, output offset included up to
 * right shifts of 22) and are clamped by SSAT (a narrower activation range
 * is clamped afterwards, ekopt_clamp_s8 in ek_conv.c): layers with a channel
 * outside ekopt_rq2's range take the 2-pixel path (ekopt_dsp6_ok and
 * EKOPT_P6_WORDS, in ek_conv.c). */

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

/* One output's fused requantization in ekopt_dsp6_channels (r4 = clo,
 * r5 = rs1, r6 = mult, r8 = chi; x, t0, t1 scratch). */
#define EKOPT_RQ6(A)                                                            \
    "and    %[x], %[" A "], #0x80000000\n\t"                                    \
    "adds   %[t0], r4, %[x]\n\t"                                                \
    "adc    %[t1], r8, %[" A "], asr #31\n\t"                                   \
    "smlal  %[t0], %[t1], %[" A "], r6\n\t"                                     \
    "asr    %[t1], %[t1], r5\n\t"                                               \
    "ssat   %[" A "], #8, %[t1]\n\t"

/* The asm block of ekopt_dsp6_channels; PAD runs after a channel's chunks
 * (K % 4 != 0: back from the end of the last chunk to the next filter
 * row, rows being K bytes apart). */
#define EKOPT_DSP6_ASM(PAD)                                                     \
    __asm__ volatile("1:\n\t"                                                   \
                     "ldr    %[t0], %[cp]\n\t"                                  \
                     "ldr    %[t1], %[dbi]\n\t"                                 \
                     "ldr    %[x], %[xb]\n\t"                                   \
                     "ldr    %[a0], [%[t0], %[t1]]\n\t"                         \
                     "ldr    %[t1], %[n]\n\t"                                   \
                     "mov    %[a1], %[a0]\n\t"                                  \
                     "mov    %[a2], %[a0]\n\t"                                  \
                     "mov    %[a3], %[a0]\n\t"                                  \
                     "mov    %[a4], %[a0]\n\t"                                  \
                     "mov    %[a5], %[a0]\n\t"                                  \
                     "tbh    [pc, %[t1], lsl #1]\n\t"                           \
                     "2:\n\t"                                                   \
                     ".hword (11f - 2b) / 2, (12f - 2b) / 2, (13f - 2b) / 2, (14f - 2b) / 2\n\t" \
                     ".hword (15f - 2b) / 2, (16f - 2b) / 2, (17f - 2b) / 2, (18f - 2b) / 2\n\t" \
                     "11:\n\t" EKOPT_MK6_CHUNK                                  \
                     "12:\n\t" EKOPT_MK6_CHUNK                                  \
                     "13:\n\t" EKOPT_MK6_CHUNK                                  \
                     "14:\n\t" EKOPT_MK6_CHUNK                                  \
                     "15:\n\t" EKOPT_MK6_CHUNK                                  \
                     "16:\n\t" EKOPT_MK6_CHUNK                                  \
                     "17:\n\t" EKOPT_MK6_CHUNK                                  \
                     "18:\n\t" EKOPT_MK6_CHUNK                                  \
                     "ldr    %[t0], %[e]\n\t"                                   \
                     "cmp    %[x], %[t0]\n\t"                                   \
                     "bne    11b\n\t"                                           \
                     PAD                                                        \
                     /* r4 = clo, r5 = rs1, r6 = mult, r8 = chi */              \
                     "ldr    r4, %[cp]\n\t"                                     \
                     "ldr    r5, %[dsh]\n\t"                                    \
                     "ldr    r8, %[c21]\n\t"                                    \
                     "ldr    r5, [r4, r5]\n\t"                                  \
                     "ldr    r6, [r4], #4\n\t"                                  \
                     "str    r4, %[cp]\n\t"                                     \
                     "mvn    r5, r5\n\t"                                        \
                     "mov    r4, #0x80000000\n\t"                               \
                     "lsl    r4, r4, r5\n\t"                                    \
                     "orr    r4, r4, #0x40000000\n\t"                           \
                     "lsl    r8, r8, r5\n\t"                                    \
                     "asr    r8, r8, #1\n\t"                                    \
                     EKOPT_RQ6("a0") EKOPT_RQ6("a1") EKOPT_RQ6("a2")            \
                     EKOPT_RQ6("a3") EKOPT_RQ6("a4") EKOPT_RQ6("a5")            \
                     /* t0 = y, t1 = ys, x = 2 ys, r5 = y + ys, r4 = y + 4 ys */ \
                     "ldr    %[t0], %[yv]\n\t"                                  \
                     "ldrd   %[t1], %[x], %[yst]\n\t"                           \
                     "add    r4, %[t0], %[x], lsl #1\n\t"                       \
                     "add    r5, %[t0], %[t1]\n\t"                              \
                     "strb   %[a1], [%[t0], %[t1]]\n\t"                         \
                     "strb   %[a2], [%[t0], %[x]]\n\t"                          \
                     "strb   %[a3], [r5, %[x]]\n\t"                             \
                     "strb   %[a4], [r4]\n\t"                                   \
                     "strb   %[a5], [r4, %[t1]]\n\t"                            \
                     "strb   %[a0], [%[t0]], #1\n\t"                            \
                     "str    %[t0], %[yv]\n\t"                                  \
                     "ldr    %[t1], %[ye]\n\t"                                  \
                     "cmp    %[t0], %[t1]\n\t"                                  \
                     "bne    1b\n\t"                                            \
                     : [a0] "=&r"(s0), [a1] "=&r"(s1), [a2] "=&r"(s2), [a3] "=&r"(s3), \
                       [a4] "=&r"(s4), [a5] "=&r"(s5), [x] "=&r"(x), [w] "+r"(w), \
                       [t0] "=&r"(t0), [t1] "=&r"(t1), [cp] "+m"(cp), [yv] "+m"(yv) \
                     : [e] "m"(xe), [n] "m"(n), [xb] "m"(xb), [ye] "m"(ye), [dsh] "m"(dsh), \
                       [dbi] "m"(dbi), [c21] "m"(c21), [yst] "m"(yst), [wp] "m"(wpad) \
                     : "r4", "r5", "r6", "r8", "cc", "memory")

/* All out_c channels of one whole group of six pixels in one asm block
 * (the common case: a bias, every right shift within 1..22 so that
 * ekopt_rq2 folds the output offset): per channel the bias into six
 * accumulators, the micro-kernel (eight chunks per loop trip, the first
 * trip entered part-way by TBH on entry = (8 - chunks % 8) % 8, chunks =
 * K rounded up to 4, over 4; the filter pointer runs on from row to row,
 * back by wpad = 4 * chunks - K bytes when that is not 0), the six fused
 * requantizations (constants made from the channel's multiplier and
 * shift: rs1 = -shift - 1, clo = 2^30 | 2^31 << rs1,
 * chi = (1 + 2 zp) << rs1 >> 1, as ekopt_rq2_make), SSAT and six stores.
 * With wpad > 0 a channel's last filter word runs up to 3 bytes into the
 * next row: the im2col buffer is 0 there, so they add nothing, and the
 * caller keeps the last channel out of this loop (no read past the
 * filter).  The loop's state lives in this frame (SP-relative operands):
 * every register is taken.  Loads are grouped in runs where the data
 * allows (a load after a load is pipelined on the Cortex-M4). */
#if EKOPT_USE(EKOPT_CONV_SIX_CH)
static __attribute__((noinline)) void
ekopt_dsp6_channels(const int32_t *buf, const int32_t *end, int32_t entry, const int8_t *w,
                    const int32_t *bias, const int32_t *mult, const int32_t *shift,
                    int32_t out_c, int8_t *y, int32_t ys, int32_t zp, int32_t wpad) {
    const int32_t *xb = buf, *xe = end, *cp = mult;
    const int32_t n = entry, c21 = 1 + 2 * zp;
    const int32_t dsh = (int32_t)((const char *)shift - (const char *)mult);
    const int32_t dbi = (int32_t)((const char *)bias - (const char *)mult);
    const int32_t yst[2] = {ys, 2 * ys};
    int8_t *yv = y, *const ye = y + out_c;
    int32_t s0, s1, s2, s3, s4, s5, t0, t1;
    const int32_t *x;
#if EKOPT_USE(EKOPT_CONV_SIX_TAIL)
    if (wpad) {
        EKOPT_DSP6_ASM("ldr    r4, %[wp]\n\t"
                       "sub    %[w], %[w], r4\n\t");
        return;
    }
#endif
    EKOPT_DSP6_ASM("");
}
#endif
#include "ek_conv_pair.h"  /* ekopt_pairs_for: the channel-pair loop */
#undef EKOPT_DSP6_ASM
#undef EKOPT_RQ6

/* Six windows of K bytes (K % 4 != 0), c bytes apart from x on, into the
 * six slots: kc = K / 4 rounded up words each; with `masked` (a constant)
 * the bytes of the last word past K (the next pixel's in the input)
 * replaced by the input zero point (keep: the bytes kept; zpx: the zero
 * point in the others), which the offset brings to 0. */
#if EKOPT_USE(EKOPT_CONV_SIX_1X1) || EKOPT_USE(EKOPT_CONV_SIX_ROWS)
static inline __attribute__((always_inline)) void
ekopt_col6(int32_t *w, const int8_t *x, int32_t c, int32_t kc, uint32_t keep, uint32_t zpx,
           int32_t off2, int masked) {
    const int32_t c2 = 2 * c;
    for (int32_t j = 1; j <= kc; ++j, x += 4, w += 12) {
        const int8_t *x3 = x + 3 * c;
        uint32_t v0 = (uint32_t)ekopt_ld4(x), v1 = (uint32_t)ekopt_ld4(x + c);
        uint32_t v2 = (uint32_t)ekopt_ld4(x + c2), v3 = (uint32_t)ekopt_ld4(x3);
        uint32_t v4 = (uint32_t)ekopt_ld4(x3 + c), v5 = (uint32_t)ekopt_ld4(x3 + c2);
        if (masked && j == kc) {
            v0 = (v0 & keep) | zpx; v1 = (v1 & keep) | zpx; v2 = (v2 & keep) | zpx;
            v3 = (v3 & keep) | zpx; v4 = (v4 & keep) | zpx; v5 = (v5 & keep) | zpx;
        }
        w[0] = __sxtab16(off2, (int32_t)v0); w[1] = ekopt_sxtab16_hi(off2, (int32_t)v0);
        w[2] = __sxtab16(off2, (int32_t)v1); w[3] = ekopt_sxtab16_hi(off2, (int32_t)v1);
        w[4] = __sxtab16(off2, (int32_t)v2); w[5] = ekopt_sxtab16_hi(off2, (int32_t)v2);
        w[6] = __sxtab16(off2, (int32_t)v3); w[7] = ekopt_sxtab16_hi(off2, (int32_t)v3);
        w[8] = __sxtab16(off2, (int32_t)v4); w[9] = ekopt_sxtab16_hi(off2, (int32_t)v4);
        w[10] = __sxtab16(off2, (int32_t)v5); w[11] = ekopt_sxtab16_hi(off2, (int32_t)v5);
    }
}
#endif

#if EKOPT_USE(EKOPT_CONV_SIX_ROWS)
/* The window of an output pixel wholly inside the input whose rows
 * (f_row bytes, in_row apart from x on) are not whole chunks (few or odd
 * channels) as contiguous bytes at d, each row as nw = f_row / 4 rounded
 * up words (unaligned LDR / STR): a row's last word runs up to 3 bytes into
 * the next row's place, which its copy rewrites, or past the last row (the
 * caller has checked that the input goes on that far, and d has room). */
static inline __attribute__((always_inline)) void
ekopt_rows_copy(int8_t *d, const int8_t *x, int32_t f_h, int32_t f_row, int32_t in_row,
                int32_t nw) {
    switch (nw) {
    case 1:
        for (int32_t fy = 0; fy < f_h; ++fy, x += in_row, d += f_row) {
            ekopt_st4(d, ekopt_ld4(x));
        }
        break;
    case 3:
        for (int32_t fy = 0; fy < f_h; ++fy, x += in_row, d += f_row) {
            const int32_t a = ekopt_ld4(x), b = ekopt_ld4(x + 4), c = ekopt_ld4(x + 8);
            ekopt_st4(d, a);
            ekopt_st4(d + 4, b);
            ekopt_st4(d + 8, c);
        }
        break;
    default:
        for (int32_t fy = 0; fy < f_h; ++fy, x += in_row, d += f_row) {
            for (int32_t j = 0; j < nw; ++j) ekopt_st4(d + 4 * j, ekopt_ld4(x + 4 * j));
        }
        break;
    }
}
#endif

#if EKOPT_USE(EKOPT_CONV_SIX_ROWS)
/* Windows of at most EKOPT_P6_WIN - 4 bytes whose rows are not whole
 * chunks, of the n output pixels from q on (raster order), into slots
 * 6 - n .. 5 of tmp (EKOPT_P6_WIN bytes apart): those wholly inside the
 * input a word at a time (ekopt_rows_copy, reading up to x + last_end,
 * which must lie in the input), the bytes of the last chunk past K set to
 * the input zero point (keep, zpx as for ekopt_col6).  Returns the slots
 * of the others (over the padding) as bits. */
static __attribute__((noinline)) uint32_t
ekopt_rows6(const ek_conv_params *p, const int8_t *in, int8_t *tmp, int32_t q, int32_t n,
            int32_t last_end, uint32_t keep, uint32_t zpx) {
    const int32_t f_row = p->f_w * p->in_c, in_row = p->in_w * p->in_c, nw = (f_row + 3) >> 2;
    const int32_t k4 = (p->f_h * f_row + 3) & ~3;
    const int8_t *const in_end = in + (int64_t)p->batches * p->in_h * in_row;
    const int32_t t = q / p->out_w;
    int32_t ox = q - t * p->out_w, oy = t % p->out_h, b = t / p->out_h;
    uint32_t edge = 0;
    for (int32_t s = 6 - n; s < 6; ++s) {
        const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
        const int8_t *x = in + (((int64_t)b * p->in_h + iy0) * p->in_w + ix0) * p->in_c;
        int8_t *d = tmp + EKOPT_P6_WIN * s;
        if (ix0 >= 0 && ix0 + p->f_w <= p->in_w && iy0 >= 0 && iy0 + p->f_h <= p->in_h
            && x + last_end <= in_end) {
            ekopt_rows_copy(d, x, p->f_h, f_row, in_row, nw);
            if (keep) {   /* K % 4 != 0 (keep is 0 for whole words: nothing to mask) */
                d += k4 - 4;
                ekopt_st4(d, (int32_t)(((uint32_t)ekopt_ld4(d) & keep) | zpx));
            }
        } else {
            edge |= 1u << s;
        }
        if (++ox == p->out_w) {
            ox = 0;
            if (++oy == p->out_h) { oy = 0; ++b; }
        }
    }
    return edge;
}
#endif

/* Needs npix >= 6 and ekopt_dsp6_ok.  buf: (K rounded up to 4) / 4 chunks
 * of 12 words (EKOPT_P6_WORDS at most), then win as for ekopt_conv_dsp.
 * Pixels go by groups of six in raster order over the whole output (groups may straddle rows and
 * images); the last, partial group is moved back to end at the last pixel:
 * its first `skip` pixels, done by the previous group, are neither widened
 * again nor stored (their slots keep the previous group's values).  So a
 * group reads only input pixels no output has been written over yet when
 * the output lies over the input (1x1, stride 1, out_c <= in_c: outputs
 * of pixels < i + 6 cover input pixels < i + 6 only, all widened by then). */
static __attribute__((noinline)) void
ekopt_conv_dsp6(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                const int32_t *bias, int8_t *out, int32_t *buf) {
    const int32_t K = p->f_h * p->f_w * p->in_c;
    const int32_t chunks = K >> 2, tail = K & 3;
    int8_t *win = (int8_t *)(void *)(buf + 6 * 2 * ((K + 3) >> 2));
    const int32_t off = p->in_offset, off2 = ekopt_off2(off);
    const int32_t npix = p->batches * p->out_h * p->out_w, ys = p->out_c;
    const int32_t zp = p->out_offset, ys2 = 2 * ys;
    const int32_t *end = buf + chunks * 12, entry = (4 - (chunks & 3)) & 3;
    /* The asm channel loop: chunks rounded up (kc), the filter rows then
     * wpad bytes short of whole chunks; with K % 4 != 0 all channels but
     * the last (whose last word would read past the filter). */
    const int32_t kc = (K + 3) >> 2, wpad = 4 * kc - K;
    const int32_t *end6 = buf + kc * 12, entry8 = (8 - (kc & 7)) & 7;
    const int32_t na = tail ? ys - 1 : ys;
    int fast = bias != 0 && ys >= (tail ? 2 : 1), r2 = 1;
    for (int32_t oc = 0; oc < ys && fast; ++oc) {
        fast = p->shift[oc] <= -1 && p->shift[oc] >= -22;
        r2 = r2 && p->shift[oc] <= -2;
    }
    /* Channel pairs (ek_conv_pair.h): an even out_c, K 40 or a multiple of
     * 32 (then tail = 0 and na = ys) and every right shift at least 2. */
    const ekopt_pairs_fn pairs = fast && r2 && !(ys & 1) ? ekopt_pairs_for(K) : 0;
#if !EKOPT_USE(EKOPT_CONV_SIX_TAIL)
    if (fast && tail) EKOPT_NOT_LISTED();
#endif
    /* A 1x1 window at stride 1 without padding (one1) over whole chunks
     * (one): output pixel q's window is input pixel q's in_c bytes (no
     * geometry).  Over odd channel counts (EKOPT_CONV_SIX_1X1, compiled
     * only where ek_paths.h lists it): the same, the bytes past K of the
     * last word (keep: those kept) given the zero point (zpx); ops/conv.py
     * lists it for every layer that takes it. */
#if EKOPT_USE(EKOPT_CONV_SIX_ROWS)
    /* Rows that are not whole chunks (few or odd channels), K <= EKOPT_P6_WIN - 4:
     * the windows wholly inside the input copied into tmp a word at a time
     * (ekopt_rows6, reading up to x + last_end), then widened at once. */
    const int32_t f_row = p->f_w * p->in_c, in_row = p->in_w * p->in_c;
    const int rows_ok = (f_row & 3) && p->dil_h == 1 && p->dil_w == 1 && K <= EKOPT_P6_WIN - 4;
    const int32_t last_end = (p->f_h - 1) * in_row + ((f_row + 3) & ~3);
#endif
#if EKOPT_USE(EKOPT_CONV_SIX_1X1) || EKOPT_USE(EKOPT_CONV_SIX_ROWS)
    const uint32_t keep = wpad ? 0xffffffffu >> (8 * wpad) : 0;
    const uint32_t zpx = ((uint8_t)(-off) * 0x01010101u) & ~keep;
    (void)zpx, (void)keep;
#endif
    const int one1 = p->f_h == 1 && p->f_w == 1 && p->stride_h == 1 && p->stride_w == 1
                     && p->pad_h == 0 && p->pad_w == 0 && p->dil_h == 1 && p->dil_w == 1;
    const int one = one1 && (p->in_c & 3) == 0;
    /* (without EKOPT_CONV_SIX_1X1 an odd-channel 1x1 layer goes through ekopt_col_pixel) */
    (void)one1;
    int8_t tmp[EKOPT_P6_TMP];
    /* K % 4 != 0: the asm channel loop's last word of a row runs past the
     * row, so the last channel (past the filter's end) runs from this copy
     * of its row, zeros up to whole chunks (for K <= EKOPT_P6_LASTK; else
     * the C loop below). */
    int32_t na1 = na;
#if EKOPT_USE(EKOPT_CONV_SIX_TAIL)
    int32_t wl[EKOPT_P6_LASTK / 4 + 1];
    if (fast && na < ys && K <= EKOPT_P6_LASTK) {
        wl[kc - 1] = 0;
        memcpy(wl, filter + (int64_t)na * K, (size_t)K);
    }
#endif
    for (int32_t done = 0; done < npix;) {
        const int32_t i = done + 6 > npix ? npix - 6 : done, skip = done - i;
        done = i + 6;
        if (one) {
            for (int32_t s = skip; s < 6; ++s) {
                ekopt_col_words(buf + 2 * s, 6, in + (int64_t)(i + s) * p->in_c, p->in_c, off2);
            }
#if EKOPT_USE(EKOPT_CONV_SIX_1X1)
        } else if (one1 && i + 6 < npix) {
            /* 1x1 at stride 1 over rows that are not whole chunks (odd
             * channel counts): pixel q's window is in_c bytes at q * in_c,
             * loaded as kc words whose last one runs up to 3 bytes into
             * pixel q + 1 (inside the input: not the last pixel), those
             * bytes replaced by the zero point. */
            ekopt_col6(buf, in + (int64_t)i * p->in_c, p->in_c, kc, keep, zpx, off2, 1);
#endif
#if EKOPT_USE(EKOPT_CONV_SIX_ROWS)
        } else if (rows_ok) {
            /* The windows wholly inside the input into tmp, all six widened
             * at once, then those over the padding (bits of `edge`) by
             * ekopt_col_pixel, over what ekopt_col6 put in their slots.  The
             * skipped pixels' slots get stale bytes: their outputs are not
             * stored. */
            uint32_t edge = ekopt_rows6(p, in, tmp, i + skip, 6 - skip, last_end, keep, zpx);
            ekopt_col6(buf, tmp, EKOPT_P6_WIN, kc, 0, 0, off2, 0);
            for (int32_t s = 0; edge; ++s, edge >>= 1) {
                if (edge & 1) {
                    const int32_t qs = i + s, ts = qs / p->out_w;
                    ekopt_col_pixel(p, in, buf, win, 6, s, ts / p->out_h, ts % p->out_h,
                                    qs - ts * p->out_w, off, off2);
                }
            }
#endif
        } else {
            for (int32_t s = skip; s < 6; ++s) {
                const int32_t q = i + s, t = q / p->out_w;
                ekopt_col_pixel(p, in, buf, win, 6, s, t / p->out_h, t % p->out_h,
                                q - t * p->out_w, off, off2);
            }
        }
        int8_t *const yg = out + (int64_t)i * ys;
        int8_t *y = yg;
        int32_t oc0 = 0, sk = skip;
        if (fast && (!skip || ys <= EKOPT_P6_TMP / 6)) {
            /* The last, partial group goes to tmp, all six pixels (the
             * skipped slots hold the previous group's pixels: their
             * outputs are not copied), then its new pixels to out. */
            y = skip ? tmp : yg;
            if (pairs) {
                /* Pixels 0..2 (words 0..5 of each chunk), then 3..5. */
                pairs(buf, end6, filter, bias, p->mult, p->shift, ys, y, ys, zp);
                pairs(buf + 6, end6 + 6, filter, bias, p->mult, p->shift, ys, y + 3 * ys, ys, zp);
            } else {
#if EKOPT_USE(EKOPT_CONV_SIX_CH)
                ekopt_dsp6_channels(buf, end6, entry8, filter, bias, p->mult, p->shift, na, y, ys,
                                    zp, wpad);
#if EKOPT_USE(EKOPT_CONV_SIX_TAIL)
                if (na < ys && K <= EKOPT_P6_LASTK) {
                    /* The last channel from its row copied whole chunks long. */
                    ekopt_dsp6_channels(buf, end6, entry8, (const int8_t *)wl, bias + na,
                                        p->mult + na, p->shift + na, 1, y + na, ys, zp, wpad);
                    na1 = ys;
                }
#endif
#else
                (void)entry8, (void)wpad;
                EKOPT_NOT_LISTED();
#endif
            }
            oc0 = na1, sk = 0;
        }
        const int8_t *w = filter + (int64_t)oc0 * K;
        int8_t *const yt = y;
        y += oc0;
        for (int32_t oc = oc0; oc < ys; ++oc, w += K, ++y) {
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
            if (!sk) {
                ekopt_st6(y, y + ys + ys2, ys, ys2, __ssat(v0, 8), __ssat(v1, 8), __ssat(v2, 8),
                          __ssat(v3, 8), __ssat(v4, 8), __ssat(v5, 8));
            } else {
                const int32_t v[6] = {v0, v1, v2, v3, v4, v5};
                for (int32_t s = sk; s < 6; ++s) y[s * ys] = (int8_t)__ssat(v[s], 8);
            }
        }
        if (yt != yg) memcpy(yg + (int64_t)skip * ys, tmp + skip * ys, (size_t)((6 - skip) * ys));
    }
}

#endif /* EK_CONV_DSP6_H */
