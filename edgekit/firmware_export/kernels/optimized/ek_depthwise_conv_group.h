/* edgekit: DEPTHWISE_CONV_2D, groups of four channels (included by the
 * optimized ek_depthwise_conv.c only; uses its dw_* helpers).
 *
 * Depth multiplier 1, four channels c .. c + 3 at once: the group is copied
 * from NHWC into `scratch` as a padded plane of pixels, each pixel two words
 * (channels 0, 2 and 1, 3 as sign-extended halfwords: one LDR and two SXTB16
 * per pixel), the padding holding the input zero point (filled once per
 * call).  Each output pixel then costs, per filter tap, one LDRD of the
 * pixel, one LDRD of the tap (sign-extended once per group) and four
 * SMLABB/SMLATT, with no bounds checks and no per-row set-up, which suits
 * the small planes of late layers (6x6, 3x3) as well as large ones.
 * Strides and dilations are only tap offsets.  Output channel c + j is
 * written after input channel c + j was copied and overwrites only it, so
 * out == in is correct (out_h * out_w <= in_h * in_w).
 */
#ifndef EK_DEPTHWISE_CONV_GROUP_H
#define EK_DEPTHWISE_CONV_GROUP_H

#define EKDW_GMAXTAPS 64  /* f_h * f_w of the group path */

#if EKOPT_DSP
#define dw_add16(a, b) __sadd16((a), (b))
#define dw_smlabb(a, b, acc) __smlabb((a), (b), (acc))
#define dw_smlatt(a, b, acc) __smlatt((a), (b), (acc))
#define dw_x02(v) __sxtb16(v)
#define dw_x13(v) ekopt_sxtb16_hi(v)
#else
static inline int32_t dw_add16(int32_t a, int32_t b) {
    return dw_pack(dw_h16(a, 0) + dw_h16(b, 0), dw_h16(a, 1) + dw_h16(b, 1));
}
static inline int32_t dw_smlabb(int32_t a, int32_t b, int32_t acc) {
    return acc + dw_h16(a, 0) * dw_h16(b, 0);
}
static inline int32_t dw_smlatt(int32_t a, int32_t b, int32_t acc) {
    return acc + dw_h16(a, 1) * dw_h16(b, 1);
}
static inline int32_t dw_x02(int32_t v) {
    return dw_pack((int8_t)((uint32_t)v), (int8_t)((uint32_t)v >> 16));
}
static inline int32_t dw_x13(int32_t v) {
    return dw_pack((int8_t)((uint32_t)v >> 8), (int8_t)((uint32_t)v >> 24));
}
#endif

/* Plane rows and columns of the group path. */
static inline int32_t dw_group_rows(const ek_conv_params *p) {
    return (p->out_h - 1) * p->stride_h + (p->f_h - 1) * p->dil_h + 1;
}
static inline int32_t dw_group_cols(const ek_conv_params *p) {
    return (p->out_w - 1) * p->stride_w + (p->f_w - 1) * p->dil_w + 1;
}

/* Fast requantization constants of one channel (dw_requant's fast form). */
typedef struct {
    int32_t hc, mult, rs;
} dw_rqc;

static inline int32_t dw_rq_fast(int32_t acc, const dw_rqc *q) {
    const int32_t t = acc >> 31;
    const uint32_t lo = 0x40000000u + ((uint32_t)t << 31);
    const int64_t v = (int64_t)(((uint64_t)(uint32_t)(q->hc + t) << 32) | lo) + (int64_t)acc * q->mult;
    return dw_sat8((int32_t)(v >> 32) >> q->rs);
}

#if EKOPT_DSP
/* Tap J of a filter row: pixel words at [X + 8J], tap words at [T + O]. */
#define EKDW_GTAP(X, J, O)                                                      \
    "ldrd %[a], %[b], [" X ", #" #J "]\n\t"                                      \
    "ldrd %[wa], %[wb], [%[t], #" #O "]\n\t"                                     \
    "smlabb %[s0], %[a], %[wa], %[s0]\n\t"                                       \
    "smlatt %[s2], %[a], %[wa], %[s2]\n\t"                                       \
    "smlabb %[s1], %[b], %[wb], %[s1]\n\t"                                       \
    "smlatt %[s3], %[b], %[wb], %[s3]\n\t"

/* 3x3 taps (column dilation 1) of one pixel for 4 channels: 9 x (2 LDRD, 4 MACs). */
static inline void dw_gpix3(const int32_t *x, int32_t rowb, const int32_t *t, int32_t *s) {
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], a, b, wa, wb;
    const int32_t *xr;
    __asm__(EKDW_GTAP("%[x]", 0, 0) EKDW_GTAP("%[x]", 8, 8) EKDW_GTAP("%[x]", 16, 16)
            "add %[xr], %[x], %[rb]\n\t"
            EKDW_GTAP("%[xr]", 0, 24) EKDW_GTAP("%[xr]", 8, 32) EKDW_GTAP("%[xr]", 16, 40)
            "add %[xr], %[xr], %[rb]\n\t"
            EKDW_GTAP("%[xr]", 0, 48) EKDW_GTAP("%[xr]", 8, 56) EKDW_GTAP("%[xr]", 16, 64)
            : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [a] "=&r"(a), [b] "=&r"(b),
              [wa] "=&r"(wa), [wb] "=&r"(wb), [xr] "=&r"(xr)
            : [x] "r"(x), [rb] "r"(rowb), [t] "r"(t)
            : "memory");
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
}
#endif

#if EKOPT_DSP
/* Requantize S with the constants at [Q + O] (hc, mult, rs) and store at [Y, #J]. */
#define EKDW_GRQ(S, O, J)                                                       \
    "ldrd %[hc], %[m], [%[q], #" #O "]\n\t"                                     \
    "ldr %[rs], [%[q], #" #O " + 8]\n\t"                                        \
    "and %[lo], " S ", #0x80000000\n\t"                                         \
    "add %[lo], %[lo], #0x40000000\n\t"                                         \
    "add %[hc], %[hc], " S ", asr #31\n\t"                                      \
    "smlal %[lo], %[hc], " S ", %[m]\n\t"                                       \
    "asr %[hc], %[hc], %[rs]\n\t"                                               \
    "ssat %[hc], #8, %[hc]\n\t"                                                 \
    "strb %[hc], [%[y], #" #J "]\n\t"

/* The four outputs of a pixel, fast requantization (q: 4 x dw_rqc). */
static inline void dw_grq4(int32_t s0, int32_t s1, int32_t s2, int32_t s3, const dw_rqc *q, int8_t *y) {
    int32_t hc, m, rs, lo;
    __asm__ volatile(EKDW_GRQ("%[s0]", 0, 0) EKDW_GRQ("%[s1]", 12, 1) EKDW_GRQ("%[s2]", 24, 2)
                     EKDW_GRQ("%[s3]", 36, 3)
                     : [hc] "=&r"(hc), [m] "=&r"(m), [rs] "=&r"(rs), [lo] "=&r"(lo)
                     : [s0] "r"(s0), [s1] "r"(s1), [s2] "r"(s2), [s3] "r"(s3), [q] "r"(q), [y] "r"(y)
                     : "memory");
}
#endif

#if EKDW_GROUP
/* Channels c .. c + 3 (batch already applied to in / out).  plane: the
 * padded group plane (rows x cols pixels, 2 words each), padding filled. */
static __attribute__((noinline)) void
dw_group(const ek_conv_params *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
         int8_t *out, int32_t *plane, int32_t c) {
    const int32_t C = p->in_c, W = p->in_w;
    const int32_t PH = dw_group_rows(p), PW = dw_group_cols(p);
    const int32_t ntap = p->f_h * p->f_w;
    /* 1. Copy the group's interior pixels. */
    {
        int32_t r1 = ek_min32(p->in_h, PH - p->pad_h), c1 = ek_min32(W, PW - p->pad_w);
        if (c1 == W && PW == W) {  /* no column padding: one run of pixels */
            c1 *= r1;
            r1 = 1;
        }
        for (int32_t iy = 0; iy < r1; ++iy) {
            const int8_t *s = in + (iy * W) * C + c;
            int32_t *d = plane + 2 * ((iy + p->pad_h) * PW + p->pad_w);
            for (int32_t ix = 0; ix < c1; ++ix, s += C, d += 2) {
                const int32_t v = ekopt_ld4(s);
                d[0] = dw_x02(v);
                d[1] = dw_x13(v);
            }
        }
    }
    /* 2. Taps sign-extended, bias with the input offset folded in, requantization. */
    int32_t tw[2 * EKDW_GMAXTAPS], toff[EKDW_GMAXTAPS];
    int32_t bo[4] = {0, 0, 0, 0}, ws[4] = {0, 0, 0, 0};
    int32_t w02 = 0, w13 = 0;  /* tap sums as halfword pairs (|sum| <= 64 * 128) */
    for (int32_t ky = 0, t = 0; ky < p->f_h; ++ky) {
        for (int32_t kx = 0; kx < p->f_w; ++kx, ++t) {
            const int32_t v = ekopt_ld4(filter + t * C + c);
            tw[2 * t] = dw_x02(v);
            tw[2 * t + 1] = dw_x13(v);
            w02 = dw_add16(w02, tw[2 * t]);
            w13 = dw_add16(w13, tw[2 * t + 1]);
            toff[t] = 2 * (ky * p->dil_h * PW + kx * p->dil_w);
        }
    }
    ws[0] = dw_h16(w02, 0), ws[2] = dw_h16(w02, 1), ws[1] = dw_h16(w13, 0), ws[3] = dw_h16(w13, 1);
    dw_rqc q[4];
    int fast = p->act_min <= -128 && p->act_max >= 127;
    for (int32_t j = 0; j < 4; ++j) {
        bo[j] = (int32_t)((uint32_t)(bias ? bias[c + j] : 0) + (uint32_t)(p->in_offset * ws[j]));
        const int32_t rr = -p->shift[c + j];
        fast = fast && p->mult[c + j] > 0 && rr >= 2 && rr <= 22;
        q[j].mult = p->mult[c + j];
        q[j].rs = rr - 1;
        q[j].hc = (int32_t)((uint32_t)(1 + 2 * p->out_offset) << ((rr - 2) & 31));
    }
    /* 3. Every output pixel. */
    const int32_t rstep = 2 * p->stride_h * PW, cstep = 2 * p->stride_w;
    const int three = p->f_h == 3 && p->f_w == 3 && p->dil_w == 1;
    const int32_t row1 = toff[3], row2 = toff[6];
    const int32_t *prow = plane;
    int8_t *y = out + c;
    for (int32_t oy = 0; oy < p->out_h; ++oy, prow += rstep) {
        const int32_t *x = prow;
        for (int32_t ox = 0; ox < p->out_w; ++ox, x += cstep, y += C) {
            int32_t s0 = bo[0], s1 = bo[1], s2 = bo[2], s3 = bo[3];
#if EKOPT_DSP
            if (three) {
                int32_t sv[4] = {s0, s1, s2, s3};
                dw_gpix3(x, 4 * row1, tw, sv);
                s0 = sv[0], s1 = sv[1], s2 = sv[2], s3 = sv[3];
            } else
#endif
            if (three) {
                const int32_t *xr = x;
                const int32_t *t = tw;
                for (int32_t k = 0; k < 3; ++k, t += 6) {
                    xr = k == 0 ? x : (k == 1 ? x + row1 : x + row2);
                    for (int32_t j = 0; j < 3; ++j) {
                        const int32_t a = xr[2 * j], b = xr[2 * j + 1];
                        s0 = dw_smlabb(a, t[2 * j], s0);
                        s2 = dw_smlatt(a, t[2 * j], s2);
                        s1 = dw_smlabb(b, t[2 * j + 1], s1);
                        s3 = dw_smlatt(b, t[2 * j + 1], s3);
                    }
                }
            } else {
                for (int32_t t = 0; t < ntap; ++t) {
                    const int32_t a = x[toff[t]], b = x[toff[t] + 1];
                    s0 = dw_smlabb(a, tw[2 * t], s0);
                    s2 = dw_smlatt(a, tw[2 * t], s2);
                    s1 = dw_smlabb(b, tw[2 * t + 1], s1);
                    s3 = dw_smlatt(b, tw[2 * t + 1], s3);
                }
            }
#if EKOPT_DSP
            if (fast) {
                dw_grq4(s0, s1, s2, s3, q, y);
                continue;
            }
#endif
            if (fast) {
                y[0] = (int8_t)dw_rq_fast(s0, &q[0]);
                y[1] = (int8_t)dw_rq_fast(s1, &q[1]);
                y[2] = (int8_t)dw_rq_fast(s2, &q[2]);
                y[3] = (int8_t)dw_rq_fast(s3, &q[3]);
            } else {
                const int32_t sv[4] = {s0, s1, s2, s3};
                for (int32_t j = 0; j < 4; ++j) {
                    const int32_t v = ek_mbqm(sv[j], p->mult[c + j], p->shift[c + j]) + p->out_offset;
                    y[j] = (int8_t)ek_clamp32(v, p->act_min, p->act_max);
                }
            }
        }
    }
}
#endif /* EKDW_GROUP */

#endif /* EK_DEPTHWISE_CONV_GROUP_H */
