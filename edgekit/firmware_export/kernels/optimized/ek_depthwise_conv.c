/* edgekit: DEPTHWISE_CONV_2D, int8, per-channel filters 1 x H x W x (C*M).
 *
 * Optimized version of kernels/ek_depthwise_conv.c: same function, same
 * results bit for bit (exact int32 sums in any order; requantization exact,
 * see dw_rq below).
 *
 * One input channel at a time ("plane" order, as TinyEngine does):
 *   1. the channel is copied from NHWC into `scratch` as a padded plane
 *      (padding bytes hold the input zero point, so with the input offset
 *      added they contribute 0: no bounds checks anywhere after the copy);
 *   2. each of its m output channels (depth multiplier m) is computed from
 *      the plane, its taps sign-extended once into a small stack table of
 *      halfword pairs (taps 4q, 4q+2 and 4q+1, 4q+3 of a filter row), so
 *      four taps cost one LDR, two SXTAB16 (which add the input offset) and
 *      two SMLAD.
 * The filter "rows" are the filter's longest side: an fh x 1 filter (1-D
 * convolution over time, e.g. str_ww) runs on a transposed plane.  A
 * dilation along the rows is a row stride; along the columns the plane
 * stores each dilation phase contiguously (column c at (c % d) * pcq + c / d),
 * so the taps of one output stay contiguous.
 *
 * Fast paths: 3 taps per row at column stride 1 (3x3 stride 1), two outputs
 * per step, taps in registers (7 instructions per row and 2 outputs); filters
 * of 3 rows of at most 4 taps (3x3 stride 2, dilated 3x3), taps in registers.
 *
 * In place: output channel c is written only after input channel c was
 * copied to the plane and overwrites only channel c, so out == in is correct
 * when depth_multiplier == 1 and out_h * out_w <= in_h * in_w.
 *
 * Requantization (dw_rq): for shift = -r, 2 <= r <= 22, TFLM's
 *   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc, m), r) + zp
 * equals floor((acc*m + 2^30 - [acc<0] 2^31 + (2^(r-1) + zp 2^r) 2^31) / 2^(31+r))
 * (nested floors; SRDHM = (acc*m + 2^30) >> 31 for m != INT32_MIN; ties of
 * the second rounding go away from zero, and acc < 0 <=> SRDHM < 0 except
 * when SRDHM is 0, where both give 0).  With hc = (1 + 2 zp) << (r - 2)
 * that is one SMLAL on (hi, lo) = (hc + (acc >> 31), 2^30 + (acc<0) 2^31)
 * and hi >> (r - 1).  Other shifts and a clamp narrower than int8 take the
 * reference arithmetic.
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_depthwise_conv_ref.h"

#define EKDW_MAXTAPS 128  /* filter rows x 4-tap chunks in the stack table */

static inline int32_t dw_h16(int32_t v, int k) { return (int16_t)((uint32_t)v >> (16 * k)); }

#if EKOPT_DSP
#define dw_smlad(a, b, acc) __smlad((a), (b), (acc))
#define dw_smlatb(a, b, acc) __smlatb((a), (b), (acc))
#define dw_lo(v) __sxtb16(v)
#define dw_hi(v) ekopt_sxtb16_hi(v)
#define dw_sat8(v) __ssat((v), 8)
#else
static inline int32_t dw_smlad(int32_t a, int32_t b, int32_t acc) {
    return acc + dw_h16(a, 0) * dw_h16(b, 0) + dw_h16(a, 1) * dw_h16(b, 1);
}
static inline int32_t dw_smlatb(int32_t a, int32_t b, int32_t acc) {
    return acc + dw_h16(a, 1) * dw_h16(b, 0);
}
/* Bytes 0 and 2 (s = 0) or 1 and 3 (s = 8) of v, sign-extended, as halfwords. */
static inline int32_t dw_pair(int32_t v, int s) {
    const uint32_t l = (uint32_t)(int32_t)(int8_t)((uint32_t)v >> s);
    const uint32_t h = (uint32_t)(int32_t)(int8_t)((uint32_t)v >> (s + 16));
    return (int32_t)((l & 0xffffu) | (h << 16));
}
#define dw_lo(v) dw_pair((v), 0)
#define dw_hi(v) dw_pair((v), 8)
#define dw_sat8(v) ek_clamp32((v), -128, 127)
#endif

/* Two int16 as one word (lo, hi). */
static inline int32_t dw_pack(int32_t lo, int32_t hi) {
    return (int32_t)(((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16));
}

/* Plane geometry in "rotated" coordinates: rows r, columns c. */
typedef struct {
    int32_t fr, fc, sr, sc, dr, dc, pr, pc;  /* filter size, strides, dilations, leading pads */
    int32_t ir, icn, orn, ocn;               /* input and output rows, columns */
    int32_t xr, xc, yr, yc;                  /* element strides of input and output */
    int32_t prn, pcf, pcq, rl, nch;          /* plane rows, columns, per phase, row bytes; chunks */
    int32_t transposed;
} dw_geom;

static dw_geom dw_geometry(const ek_conv_params *p) {
    dw_geom g;
    const int32_t C = p->in_c, OC = p->out_c;
    /* Rows along the filter side that needs fewer 4-tap chunks in total;
     * on a tie, the longer output side is the inner (column) loop. */
    const int32_t cost_n = p->f_h * ((p->f_w + 3) / 4), cost_t = p->f_w * ((p->f_h + 3) / 4);
    g.transposed = cost_t < cost_n || (cost_t == cost_n && p->out_h > p->out_w);
    if (!g.transposed) {
        g.fr = p->f_h; g.fc = p->f_w; g.sr = p->stride_h; g.sc = p->stride_w;
        g.dr = p->dil_h; g.dc = p->dil_w; g.pr = p->pad_h; g.pc = p->pad_w;
        g.ir = p->in_h; g.icn = p->in_w; g.orn = p->out_h; g.ocn = p->out_w;
        g.xr = p->in_w * C; g.xc = C; g.yr = p->out_w * OC; g.yc = OC;
    } else {
        g.fr = p->f_w; g.fc = p->f_h; g.sr = p->stride_w; g.sc = p->stride_h;
        g.dr = p->dil_w; g.dc = p->dil_h; g.pr = p->pad_w; g.pc = p->pad_h;
        g.ir = p->in_w; g.icn = p->in_h; g.orn = p->out_w; g.ocn = p->out_h;
        g.xr = C; g.xc = p->in_w * C; g.yr = OC; g.yc = p->out_w * OC;
    }
    g.prn = (g.orn - 1) * g.sr + (g.fr - 1) * g.dr + 1;
    g.pcf = (g.ocn - 1) * g.sc + (g.fc - 1) * g.dc + 1;
    g.pcq = (g.pcf + g.dc - 1) / g.dc;
    g.rl = g.dc * g.pcq;
    g.nch = (g.fc + 3) / 4;
    return g;
}

/* Copy input channel x (element strides g->xr, g->xc) into the padded plane. */
static void dw_gather(const dw_geom *g, const int8_t *x, int8_t *plane, int8_t zp) {
    for (int32_t r = 0; r < g->prn; ++r) {
        int8_t *d = plane + (int64_t)r * g->rl;
        const int32_t iy = r - g->pr;
        if (iy < 0 || iy >= g->ir) {
            memset(d, zp, (size_t)g->rl);
            continue;
        }
        const int8_t *s = x + (int64_t)iy * g->xr;
        if (g->dc == 1) {
            const int32_t c0 = ek_min32(g->pc, g->pcf);
            const int32_t c1 = ek_max32(c0, ek_min32(g->pcf, g->icn + g->pc));
            int32_t c = 0;
            for (; c < c0; ++c) d[c] = zp;
            const int8_t *sp = s + (int64_t)(c0 - g->pc) * g->xc;
            const int32_t xc = g->xc;
            for (; c + 4 <= c1; c += 4, sp += 4 * xc) {
                d[c] = sp[0];
                d[c + 1] = sp[xc];
                d[c + 2] = sp[2 * xc];
                d[c + 3] = sp[3 * xc];
            }
            for (; c < c1; ++c, sp += xc) d[c] = *sp;
            for (; c < g->pcf; ++c) d[c] = zp;
        } else {
            memset(d, zp, (size_t)g->rl);
            for (int32_t c = 0; c < g->pcf; ++c) {
                const int32_t ix = c - g->pc;
                if (ix >= 0 && ix < g->icn) d[(c % g->dc) * g->pcq + c / g->dc] = s[(int64_t)ix * g->xc];
            }
        }
    }
}

/* Requantization constants of one output channel. */
typedef struct {
    int32_t mult, shift, hc, rs, zp, lo, hi;
} dw_rq;

static inline int32_t dw_requant(int32_t acc, const dw_rq *q, const int fast) {
    if (fast) {
        const int32_t t = acc >> 31;
        const uint32_t lo = 0x40000000u + ((uint32_t)t << 31);
        const int64_t v = (int64_t)(((uint64_t)(uint32_t)(q->hc + t) << 32) | lo) + (int64_t)acc * q->mult;
        return dw_sat8((int32_t)(v >> 32) >> q->rs);
    }
    return ek_clamp32(ek_mbqm(acc, q->mult, q->shift) + q->zp, q->lo, q->hi);
}

/* Filter rows of one output pixel: taps of row k at x + k * tstep, table t. */
static inline int32_t dw_dot(const int8_t *x, int32_t tstep, const int32_t *t, int32_t fr, int32_t nch,
                             int32_t s) {
    for (int32_t k = 0; k < fr; ++k, x += tstep) {
        const int8_t *xp = x;
        for (int32_t j = 0; j < nch; ++j, xp += 4, t += 2) {
            const int32_t v = ekopt_ld4(xp);
            s = dw_smlad(dw_lo(v), t[0], s);
            s = dw_smlad(dw_hi(v), t[1], s);
        }
    }
    return s;
}

/* Outputs c and c + 1 of a row from bytes x[0..3] of one filter row
 * (filter rows of at most 3 taps: (t0, t2), (t1, 0)). */
#define EKDW_PAIR(X, A, B, S0, S1)                                               \
    do {                                                                         \
        const int32_t v_ = ekopt_ld4(X);                                         \
        const int32_t e_ = dw_lo(v_), o_ = dw_hi(v_);                            \
        S0 = dw_smlad(e_, A, S0);                                                \
        S0 = dw_smlad(o_, B, S0);                                                \
        S1 = dw_smlad(o_, A, S1);                                                \
        S1 = dw_smlatb(e_, B, S1);                                               \
    } while (0)

#if EKOPT_DSP
/* One filter row of EKDW_BLK4_3: weights at [t + O], bytes at [X] and [X + 2]. */
#define EKDW_ROW4(X, O)                                                          \
    "ldrd %[a], %[b], [%[t], #" #O "]\n\t"                                        \
    "ldr %[v], [" X "]\n\t"                                                       \
    "sxtb16 %[e], %[v]\n\t"                                                       \
    "sxtb16 %[o], %[v], ror #8\n\t"                                               \
    "smlad %[s0], %[e], %[a], %[s0]\n\t"                                          \
    "smlad %[s0], %[o], %[b], %[s0]\n\t"                                          \
    "smlad %[s1], %[o], %[a], %[s1]\n\t"                                          \
    "smlatb %[s1], %[e], %[b], %[s1]\n\t"                                         \
    "ldr %[v], [" X ", #2]\n\t"                                                   \
    "sxtb16 %[e], %[v]\n\t"                                                       \
    "sxtb16 %[o], %[v], ror #8\n\t"                                               \
    "smlad %[s2], %[e], %[a], %[s2]\n\t"                                          \
    "smlad %[s2], %[o], %[b], %[s2]\n\t"                                          \
    "smlad %[s3], %[o], %[a], %[s3]\n\t"                                          \
    "smlatb %[s3], %[e], %[b], %[s3]\n\t"

/* Four outputs of a 3-row filter of at most 3 taps per row, column stride 1:
 * 3 LDRD, 6 LDR, 12 SXTB16, 24 SMLAxx (written in assembly: gcc spills the
 * accumulators of the C version). */
static inline void dw_blk4_3(const int8_t *x, int32_t tstep, const int32_t *tw, int32_t *s) {
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    int32_t a, b, v, e, o;
    const int8_t *xr;
    __asm__(EKDW_ROW4("%[x]", 0)
            "add %[xr], %[x], %[ts]\n\t"
            EKDW_ROW4("%[xr]", 8)
            "add %[xr], %[xr], %[ts]\n\t"
            EKDW_ROW4("%[xr]", 16)
            : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [a] "=&r"(a), [b] "=&r"(b),
              [v] "=&r"(v), [e] "=&r"(e), [o] "=&r"(o), [xr] "=&r"(xr)
            : [x] "r"(x), [ts] "r"(tstep), [t] "r"(tw)
            : "memory");
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
}
#endif

/* One output channel over the whole plane.  tw: 2 * fr * nch tap words; FR:
 * g->fr as a constant (3) or 0 (read g->fr). */
static inline __attribute__((always_inline)) void dw_plane(const dw_geom *g, const int8_t *plane,
                                                           const int32_t *tw, int32_t bias,
                                                           const dw_rq *q, int8_t *y, const int fast,
                                                           const int32_t FR) {
    const int32_t fr = FR ? FR : g->fr;
    const int32_t rstep = g->sr * g->rl, tstep = g->dr * g->rl, yc = g->yc;
    if (g->nch == 1 && g->fc <= 3 && g->sc == 1 && g->dc == 1) {
        for (int32_t r = 0; r < g->orn; ++r, plane += rstep, y += g->yr) {
            const int8_t *x = plane;
            int8_t *yp = y;
            int32_t c = 0;
            for (; c + 4 <= g->ocn; c += 4, x += 4, yp += 4 * yc) {
                int32_t s0 = bias, s1 = bias, s2 = bias, s3 = bias;
#if EKOPT_DSP
                if (FR == 3) {
                    int32_t sv[4] = {bias, bias, bias, bias};
                    dw_blk4_3(x, tstep, tw, sv);
                    s0 = sv[0], s1 = sv[1], s2 = sv[2], s3 = sv[3];
                } else
#endif
                if (FR == 3) {
                    EKDW_PAIR(x, tw[0], tw[1], s0, s1);
                    EKDW_PAIR(x + 2, tw[0], tw[1], s2, s3);
                    EKDW_PAIR(x + tstep, tw[2], tw[3], s0, s1);
                    EKDW_PAIR(x + tstep + 2, tw[2], tw[3], s2, s3);
                    EKDW_PAIR(x + 2 * tstep, tw[4], tw[5], s0, s1);
                    EKDW_PAIR(x + 2 * tstep + 2, tw[4], tw[5], s2, s3);
                } else {
                    const int8_t *xr = x;
                    const int32_t *t = tw;
                    for (int32_t k = 0; k < fr; ++k, xr += tstep, t += 2) {
                        const int32_t a = t[0], b = t[1];
                        EKDW_PAIR(xr, a, b, s0, s1);
                        EKDW_PAIR(xr + 2, a, b, s2, s3);
                    }
                }
                yp[0] = (int8_t)dw_requant(s0, q, fast);
                yp[yc] = (int8_t)dw_requant(s1, q, fast);
                yp[2 * yc] = (int8_t)dw_requant(s2, q, fast);
                yp[3 * yc] = (int8_t)dw_requant(s3, q, fast);
            }
            if (c + 2 <= g->ocn) {
                int32_t s0 = bias, s1 = bias;
                const int8_t *xr = x;
                const int32_t *t = tw;
                for (int32_t k = 0; k < fr; ++k, xr += tstep, t += 2) EKDW_PAIR(xr, t[0], t[1], s0, s1);
                yp[0] = (int8_t)dw_requant(s0, q, fast);
                yp[yc] = (int8_t)dw_requant(s1, q, fast);
                c += 2, x += 2, yp += 2 * yc;
            }
            if (c < g->ocn) *yp = (int8_t)dw_requant(dw_dot(x, tstep, tw, fr, 1, bias), q, fast);
        }
        return;
    }
    const int32_t cstep = g->dc > 1 ? 0 : g->sc;
    for (int32_t r = 0; r < g->orn; ++r, plane += rstep, y += g->yr) {
        int8_t *yp = y;
        const int8_t *x = plane;
        for (int32_t c = 0; c < g->ocn; ++c, yp += yc, x += cstep) {
            if (g->dc > 1) {
                const int32_t col = c * g->sc;
                x = plane + (col % g->dc) * g->pcq + col / g->dc;
            }
            *yp = (int8_t)dw_requant(dw_dot(x, tstep, tw, fr, FR ? 1 : g->nch, bias), q, fast);
        }
    }
}

static void dw_plane_fast3(const dw_geom *g, const int8_t *plane, const int32_t *tw, int32_t bias,
                           const dw_rq *q, int8_t *y) {
    dw_plane(g, plane, tw, bias, q, y, 1, 3);
}

static void dw_plane_fast(const dw_geom *g, const int8_t *plane, const int32_t *tw, int32_t bias,
                          const dw_rq *q, int8_t *y) {
    dw_plane(g, plane, tw, bias, q, y, 1, 0);
}

static void dw_plane_exact(const dw_geom *g, const int8_t *plane, const int32_t *tw, int32_t bias,
                           const dw_rq *q, int8_t *y) {
    dw_plane(g, plane, tw, bias, q, y, 0, 0);
}

void ek_depthwise_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                            const int32_t *bias, int8_t *out, int8_t *scratch) {
    const dw_geom g = dw_geometry(p);
    if (!scratch || g.fr * g.nch > EKDW_MAXTAPS) {
        ek_depthwise_conv_reference(p, in, filter, bias, out, scratch);
        return;
    }
    const int32_t m = p->depth_multiplier, C = p->in_c, OC = p->out_c;
    const int8_t zp = (int8_t)(-p->in_offset);
    const int full = p->act_min <= -128 && p->act_max >= 127;
    int32_t tw[2 * EKDW_MAXTAPS];
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *xb = in + (int64_t)b * p->in_h * p->in_w * C;
        int8_t *yb = out + (int64_t)b * p->out_h * p->out_w * OC;
        for (int32_t ic = 0; ic < C; ++ic) {
            dw_gather(&g, xb + ic, scratch, zp);
            for (int32_t k = 0; k < m; ++k) {
                const int32_t oc = ic * m + k;
                /* Taps of oc as halfword pairs: row r, chunk j -> (4j, 4j+2), (4j+1, 4j+3). */
                for (int32_t r = 0; r < g.fr; ++r) {
                    for (int32_t j = 0; j < g.nch; ++j) {
                        int32_t w[4];
                        for (int32_t i = 0; i < 4; ++i) {
                            const int32_t cc = 4 * j + i;
                            const int32_t fy = g.transposed ? cc : r, fx = g.transposed ? r : cc;
                            w[i] = cc < g.fc ? filter[((int64_t)fy * p->f_w + fx) * OC + oc] : 0;
                        }
                        tw[2 * (r * g.nch + j)] = dw_pack(w[0], w[2]);
                        tw[2 * (r * g.nch + j) + 1] = dw_pack(w[1], w[3]);
                    }
                }
                const int32_t mult = p->mult[oc], shift = p->shift[oc], rr = -shift;
                dw_rq q = {mult, shift, 0, 0, p->out_offset, p->act_min, p->act_max};
                /* Input offset folded into the bias: the padding bytes hold
                 * the input zero point, so every tap adds (x + offset) * w. */
                int32_t wsum = 0;
                for (int32_t t = 0; t < g.fr * g.nch; ++t) {
                    wsum += dw_h16(tw[2 * t], 0) + dw_h16(tw[2 * t], 1) + dw_h16(tw[2 * t + 1], 0)
                            + dw_h16(tw[2 * t + 1], 1);
                }
                const int32_t bo = (bias ? bias[oc] : 0) + p->in_offset * wsum;
                if (full && mult > 0 && rr >= 2 && rr <= 22) {
                    q.hc = (int32_t)((uint32_t)(1 + 2 * p->out_offset) << (rr - 2));
                    q.rs = rr - 1;
                    if (g.fr == 3 && g.nch == 1) dw_plane_fast3(&g, scratch, tw, bo, &q, yb + oc);
                    else dw_plane_fast(&g, scratch, tw, bo, &q, yb + oc);
                } else {
                    dw_plane_exact(&g, scratch, tw, bo, &q, yb + oc);
                }
            }
        }
    }
}
