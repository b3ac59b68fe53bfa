/* edgekit: CONV_2D with int16 activations, int8 per-channel weights, int64
 * bias (TFLite 16x8), optimized version of kernels/ek_conv_s16.c: same
 * function, same results bit for bit (exact int32 partial sums of at most
 * 256 products, each |x * w| <= 2^22, added to the int64 accumulator: the
 * same exact sum in another order; requantization ek_mbqm64 as there).
 *
 * On DSP cores, without groups and for 4 <= f_h * f_w * in_c <= EKC16_MAXK
 * (the patch, K values): per output pixel, the input values under the
 * filter (zeros where it lies over the padding: zero points are 0) are
 * gathered once, in filter order, into a stack buffer and rearranged into
 * the halfword pairs (x0, x2), (x1, x3) of each four, the pairing SXTB16
 * gives for a weight word and its rotation by 8; then per two output
 * channels and four values one LDRD of the pairs and per channel one LDR of
 * four weights, two SXTB16 and two SMLAD, the last K % 4 weights as one word
 * (the word ending the channel's row, shifted right).
 * The gather is shared by every output channel, so that a one-channel input
 * under a 10x4 window (K = 40) runs at the rate of a 1x1 32 -> 32 layer.
 * Elsewhere (grouped convolution, K < 4 or > EKC16_MAXK, cores without DSP)
 * the reference loop (ek_conv_s16_ref.h).
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_conv_s16_ref.h"

#if EKOPT_DSP
#define EKC16_MAXK 512   /* patch values on the stack (1 KB, plus 1 KB rearranged) */
#define EKC16_CHUNK 64   /* words of four values per int32 partial sum (256 products) */

/* (lo halfword of a, lo halfword of b) and (hi of a, hi of b). */
static inline int32_t ekc16_pk_lo(int32_t a, int32_t b) {
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline int32_t ekc16_pk_hi(int32_t a, int32_t b) {
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
}

/* ek_mbqm64(acc, mult, shift) (ek_fixedpoint.h) for mult >= 0: the 64-bit
 * v = acc * m16 + 2^(right - 1), right = 15 - shift (8..46), as a UMULL of
 * acc's low word and an MLA of its high word; then v >> right as 32-bit
 * shifts: for right >= 32 the high word shifted by right - 32 (the result
 * fits in 32 bits), else the low 32 bits of v >> right, all that the
 * reference's cast keeps. */
static inline int32_t ekc16_rq(int64_t acc, int32_t mult, int32_t shift) {
    const int32_t m16 = mult < 0x7FFF0000 ? ((mult + (1 << 15)) >> 16) : 0x7FFF;
    const int32_t right = 15 - shift;
    const uint32_t lo = (uint32_t)acc;
    const int32_t hi = (int32_t)((uint64_t)acc >> 32);
    if (right > 32) {
        const uint64_t t = (uint64_t)lo * (uint32_t)m16;
        const int32_t vh = (int32_t)((uint32_t)(t >> 32) + (uint32_t)hi * (uint32_t)m16
                                     + (1u << (right - 33)));
        return vh >> (right - 32);
    }
    const uint64_t t = (uint64_t)lo * (uint32_t)m16 + (1u << (right - 1));
    const uint32_t vl = (uint32_t)t;
    const uint32_t vh = (uint32_t)(t >> 32) + (uint32_t)hi * (uint32_t)m16;
    return right == 32 ? (int32_t)vh : (int32_t)((vl >> right) | (vh << (32 - right)));
}

/* Sums over the rearranged patch of words j0 .. j1 - 1 (at most
 * EKC16_CHUNK: exact in int32) against the weight rows wa and wb. */
static inline __attribute__((always_inline)) void
ekc16_dot2(const int32_t *xw, const int8_t *wa, const int8_t *wb, int32_t j0, int32_t j1,
           int32_t *sa, int32_t *sb) {
    int32_t s0 = 0, s1 = 0;
    for (int32_t j = j0; j < j1; ++j) {
        const int32_t x0 = xw[2 * j], x1 = xw[2 * j + 1];
        const int32_t va = ekopt_ld4(wa + 4 * j), vb = ekopt_ld4(wb + 4 * j);
        s0 = __smlad(x0, __sxtb16(va), s0);
        s0 = __smlad(x1, ekopt_sxtb16_hi(va), s0);
        s1 = __smlad(x0, __sxtb16(vb), s1);
        s1 = __smlad(x1, ekopt_sxtb16_hi(vb), s1);
    }
    *sa = s0, *sb = s1;
}

/* n int16 from s to d (either unaligned), two per LDR / STR. */
static inline void ekc16_copy(int16_t *d, const int16_t *s, int32_t n) {
    int32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        int32_t v;
        memcpy(&v, s + i, 4);
        memcpy(d + i, &v, 4);
    }
    if (i < n) d[i] = s[i];
}

static inline void ekc16_zero(int16_t *d, int32_t n) {
    int32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const int32_t z = 0;
        memcpy(d + i, &z, 4);
    }
    if (i < n) d[i] = 0;
}

/* The patch of output pixel (oy, ox) in filter order [fy][fx][c]: K
 * values, then zeros up to a multiple of four. */
static inline void ekc16_gather(const ek_conv_params *p, const int16_t *img, int32_t iy0,
                                int32_t ix0, int16_t *d, int32_t K) {
    const int32_t ic = p->in_c, fw = p->f_w, row = fw * ic;
    int16_t *const d0 = d;
    for (int32_t fy = 0; fy < p->f_h; ++fy) {
        const int32_t iy = iy0 + p->dil_h * fy;
        if (iy < 0 || iy >= p->in_h) {
            ekc16_zero(d, row);
            d += row;
            continue;
        }
        const int16_t *xr = img + (int64_t)iy * p->in_w * ic;
        if (p->dil_w == 1 && ix0 >= 0 && ix0 + fw <= p->in_w) {
            /* The row's taps are one run of the input. */
            ekc16_copy(d, xr + (int64_t)ix0 * ic, row);
            d += row;
            continue;
        }
        for (int32_t fx = 0; fx < fw; ++fx, d += ic) {
            const int32_t ix = ix0 + p->dil_w * fx;
            if (ix < 0 || ix >= p->in_w) {
                ekc16_zero(d, ic);
            } else {
                ekc16_copy(d, xr + (int64_t)ix * ic, ic);
            }
        }
    }
    for (int32_t i = K; i < ((K + 3) & ~3); ++i) d0[i] = 0;
}

/* full: the activation range is all of int16 (SSAT). */
static inline __attribute__((always_inline)) void
ekc16_conv(const ek_conv_params *p, const int16_t *in, const int8_t *filter, const int64_t *bias,
           int16_t *out, int32_t K, int full) {
    int16_t nat[EKC16_MAXK + 4] __attribute__((aligned(4)));   /* the patch, filter order */
    int32_t xw[EKC16_MAXK / 2 + 2];       /* rearranged: (x0, x2), (x1, x3) per four */
    const int32_t words = K >> 2, tail = K & 3, nw = (K + 3) >> 2;
    const int32_t row = p->f_w * p->in_c, rstep = p->dil_h * p->in_w * p->in_c;
    const int32_t tsh = 32 - 8 * (tail ? tail : 1);
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int16_t *img = in + (int64_t)b * p->in_h * p->in_w * p->in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                if (p->dil_w == 1 && ix0 >= 0 && ix0 + p->f_w <= p->in_w && iy0 >= 0
                    && iy0 + (p->f_h - 1) * p->dil_h < p->in_h) {
                    /* The window inside the input: a run of f_w * in_c
                     * values per filter row. */
                    const int16_t *src = img + ((int64_t)iy0 * p->in_w + ix0) * p->in_c;
                    int16_t *d = nat;
                    for (int32_t fy = 0; fy < p->f_h; ++fy, src += rstep, d += row) {
                        ekc16_copy(d, src, row);
                    }
                    for (int32_t i = K; i < 4 * nw; ++i) nat[i] = 0;
                } else {
                    ekc16_gather(p, img, iy0, ix0, nat, K);
                }
                for (int32_t j = 0; j < nw; ++j) {
                    int32_t a, c;                             /* (x0, x1), (x2, x3) */
                    memcpy(&a, nat + 4 * j, 4);
                    memcpy(&c, nat + 4 * j + 2, 4);
                    xw[2 * j] = ekc16_pk_lo(a, c);
                    xw[2 * j + 1] = ekc16_pk_hi(a, c);
                }
                int16_t *y = out + (((int64_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                /* Two output channels per pass (an odd last one twice,
                 * stored once): each rearranged pair loaded feeds both. */
                for (int32_t oc = 0; oc < p->out_c; oc += 2) {
                    const int32_t o1 = oc + 1 < p->out_c ? oc + 1 : oc;
                    const int8_t *wa = filter + (int64_t)oc * K, *wb = filter + (int64_t)o1 * K;
                    int64_t acc0 = bias ? bias[oc] : 0, acc1 = bias ? bias[o1] : 0;
                    int32_t s0, s1;
                    if (words <= EKC16_CHUNK) {
                        ekc16_dot2(xw, wa, wb, 0, words, &s0, &s1);
                        acc0 += s0;
                        acc1 += s1;
                    } else {
                        for (int32_t j = 0; j < words; j += EKC16_CHUNK) {
                            ekc16_dot2(xw, wa, wb, j, ek_min32(words, j + EKC16_CHUNK), &s0, &s1);
                            acc0 += s0;
                            acc1 += s1;
                        }
                    }
                    if (tail) {
                        /* The rows' last K % 4 weights in the low bytes, zeros
                         * above (the patch is zero there too). */
                        const int32_t x0 = xw[2 * words], x1 = xw[2 * words + 1];
                        const int32_t va = (int32_t)((uint32_t)ekopt_ld4(wa + K - 4) >> tsh);
                        const int32_t vb = (int32_t)((uint32_t)ekopt_ld4(wb + K - 4) >> tsh);
                        acc0 += __smlad(x1, ekopt_sxtb16_hi(va), __smlad(x0, __sxtb16(va), 0));
                        acc1 += __smlad(x1, ekopt_sxtb16_hi(vb), __smlad(x0, __sxtb16(vb), 0));
                    }
                    const int32_t r0 = ekc16_rq(acc0, p->mult[oc], p->shift[oc]);
                    const int32_t r1 = ekc16_rq(acc1, p->mult[o1], p->shift[o1]);
                    y[oc] = (int16_t)(full ? __ssat(r0, 16) : ek_clamp_s16(r0, lo, hi));
                    y[o1] = (int16_t)(full ? __ssat(r1, 16) : ek_clamp_s16(r1, lo, hi));
                }
            }
        }
    }
}

static __attribute__((noinline)) void ekc16_conv_full(const ek_conv_params *p, const int16_t *in,
                                                      const int8_t *filter, const int64_t *bias,
                                                      int16_t *out, int32_t K) {
    ekc16_conv(p, in, filter, bias, out, K, 1);
}

static __attribute__((noinline)) void ekc16_conv_clamp(const ek_conv_params *p, const int16_t *in,
                                                       const int8_t *filter, const int64_t *bias,
                                                       int16_t *out, int32_t K) {
    ekc16_conv(p, in, filter, bias, out, K, 0);
}
#endif /* EKOPT_DSP */

void ek_conv2d_s16(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                   const int64_t *bias, int16_t *out) {
#if EKOPT_DSP
    const int32_t K = p->f_h * p->f_w * p->in_c;
    int32_t pos = 1;       /* ekc16_rq: multipliers >= 0 (TFLite's always are) */
    for (int32_t oc = 0; oc < p->out_c; ++oc) pos &= p->mult[oc] >= 0;
    if (p->f_in_c == p->in_c && K >= 4 && K <= EKC16_MAXK && pos) {
        if (p->act_min == -32768 && p->act_max == 32767) {
            ekc16_conv_full(p, in, filter, bias, out, K);
        } else {
            ekc16_conv_clamp(p, in, filter, bias, out, K);
        }
        return;
    }
#endif
    ek_conv2d_s16_reference(p, in, filter, bias, out);
}
