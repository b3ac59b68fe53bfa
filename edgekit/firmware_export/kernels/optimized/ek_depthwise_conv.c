/* edgekit: DEPTHWISE_CONV_2D, int8, per-channel filters 1 x H x W x (C*M).
 *
 * Optimized version of kernels/ek_depthwise_conv.c: same function, same
 * results bit for bit (exact int32 sums in any order; requantization exact,
 * see dw_requant).
 *
 * One input channel at a time ("plane" order, as TinyEngine does):
 *   1. the channel is copied from NHWC into `scratch` as a plane of int16
 *      (two per word, ready for SMLAD); the plane's padding is filled with
 *      the input zero point once per call, so with the input offset folded
 *      into the bias (bias + offset * sum(w)) padding taps add exactly 0 and
 *      nothing after the copy checks bounds;
 *   2. each of its m output channels (depth multiplier m) is computed from
 *      the plane with its taps as halfword pairs in a small stack table.
 * The plane's rows run along the filter side that needs fewer tap pairs
 * (an fh x 1 filter, e.g. str_ww's 1-D convolutions over time, runs on a
 * transposed plane); on a tie the longer output side is the inner loop
 * (KWS's 25 x 5 outputs: 5 rows of 25).  A dilation along the rows is a row
 * stride; along the columns each dilation phase is stored contiguously
 * (column c at (c % d) * pcq + c / d), so the taps of one output are
 * adjacent and any stride / dilation takes the same loops.
 *
 * Loops (instructions per output channel and plane row):
 *   - filters of at most 3 taps per row, column stride 1 (3x3, 3x1):
 *     four outputs per step, per filter row LDRD taps, LDRD + LDR of 6
 *     inputs, 8 SMLAD/SMLAxy for 12 MACs (assembly: gcc spills the four
 *     accumulators of the C form);
 *   - same filters at column stride 2: two outputs per step, 7 instructions
 *     per filter row for 6 MACs;
 *   - anything else: one output per step, LDR + SMLAD per tap pair (a
 *     single filter row, e.g. the LMU's 1-wide memory filter run transposed:
 *     four pairs per loop trip, dw_plane_row1).
 *
 * Requantization (dw_requant): for shift = -r, 2 <= r <= 22, multiplier > 0,
 *   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc, m), r) + zp
 * = floor((acc*m + 2^30 - [acc<0] 2^31 + (2^(r-1) + zp 2^r) 2^31) / 2^(31+r))
 * (nested floors; SRDHM = (acc*m + 2^30) >> 31 for m != INT32_MIN; the ties
 * of the second rounding go away from zero: [SRDHM < 0], which equals
 * [acc < 0] except when SRDHM is 0, where both give 0).  With
 * hc = (1 + 2 zp) << (r - 2) that is one SMLAL on
 * (hi, lo) = (hc + (acc >> 31), 2^30 + (acc < 0) 2^31), then hi >> (r - 1)
 * and SSAT: 7 instructions with the store.  Other shifts, or a clamp
 * narrower than int8, take the reference arithmetic.
 *
 * In place: output channel c is written only after input channel c was
 * copied to the plane and overwrites only channel c, so out == in is correct
 * when depth_multiplier == 1 and out_h * out_w <= in_h * in_w.
 *
 * Only the paths ek_paths.h lists are compiled (EKOPT_USE; the choice per
 * layer is mirrored by ops/depthwise_conv.py depthwise_paths): the
 * reference loop, the group path, the 3-row assembly rows at column stride
 * 1 and 2 (DSP cores) and the generic plane loop (DSP cores / others).
 * A choice that ek_paths.h leaves out traps (EKOPT_NOT_LISTED).
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_depthwise_conv_ref.h"

/* 0 / 1 for the paths this core takes (usable in C expressions too). */
#if EKOPT_DSP && EKOPT_USE(EKOPT_DW_THREE_S1)
#define EKDW_THREE_S1 1
#else
#define EKDW_THREE_S1 0
#endif
#if EKOPT_DSP && EKOPT_USE(EKOPT_DW_THREE_S2)
#define EKDW_THREE_S2 1
#else
#define EKDW_THREE_S2 0
#endif
#if (EKOPT_DSP && EKOPT_USE(EKOPT_DW_GENERIC_DSP)) || (!EKOPT_DSP && EKOPT_USE(EKOPT_DW_GENERIC_C))
#define EKDW_GENERIC 1
#else
#define EKDW_GENERIC 0
#endif
#define EKDW_THREE (EKDW_THREE_S1 || EKDW_THREE_S2)
#define EKDW_PLANE (EKDW_THREE || EKDW_GENERIC)
#define EKDW_GROUP EKOPT_USE(EKOPT_DW_GROUP)

#define EKDW_MAXPAIRS 128  /* filter rows x tap pairs in the stack table */

static inline int32_t dw_h16(int32_t v, int k) { return (int16_t)((uint32_t)v >> (16 * k)); }

#if EKOPT_DSP
#define dw_smlad(a, b, acc) __smlad((a), (b), (acc))
#define dw_smlabt(a, b, acc) __smlabt((a), (b), (acc))
#define dw_smlatb(a, b, acc) __smlatb((a), (b), (acc))
#define dw_sat8(v) __ssat((v), 8)
#else
static inline int32_t dw_smlad(int32_t a, int32_t b, int32_t acc) {
    return acc + dw_h16(a, 0) * dw_h16(b, 0) + dw_h16(a, 1) * dw_h16(b, 1);
}
static inline int32_t dw_smlabt(int32_t a, int32_t b, int32_t acc) {
    return acc + dw_h16(a, 0) * dw_h16(b, 1);
}
static inline int32_t dw_smlatb(int32_t a, int32_t b, int32_t acc) {
    return acc + dw_h16(a, 1) * dw_h16(b, 0);
}
#define dw_sat8(v) ek_clamp32((v), -128, 127)
#endif

/* Two int16 as one word (lo, hi). */
static inline int32_t dw_pack(int32_t lo, int32_t hi) {
    return (int32_t)(((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16));
}

/* Two int16 at p (2-byte aligned; LDR allows that on ARMv7-M). */
static inline int32_t dw_ld2(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Plane geometry in "rotated" coordinates: rows r, columns c. */
typedef struct {
    int32_t fr, fc, sr, sc, dr, dc, pr, pc;  /* filter size, strides, dilations, leading pads */
    int32_t ir, icn, orn, ocn;               /* input and output rows, columns */
    int32_t xr, xc, yr, yc;                  /* element strides of input and output */
    int32_t prn, pcf, pcq, rl, np;           /* plane rows, columns, per phase, row elements; pairs */
    int32_t transposed;
} dw_geom;

static dw_geom dw_geometry(const ek_conv_params *p) {
    dw_geom g;
    const int32_t C = p->in_c, OC = p->out_c;
    const int32_t cost_n = p->f_h * ((p->f_w + 1) / 2), cost_t = p->f_w * ((p->f_h + 1) / 2);
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
    g.rl = (g.dc * g.pcq + 1) & ~1;  /* even: rows start 4-byte aligned */
    g.np = (g.fc + 1) / 2;
    return g;
}

#if EKDW_PLANE
/* Copy the interior of input channel x (element strides xr, xc) into the
 * plane; the padding already holds the zero point. */
static void dw_gather(const dw_geom *g, const int8_t *x, int16_t *plane) {
    const int32_t r0 = ek_max32(0, g->pr), r1 = ek_min32(g->prn, g->pr + g->ir);
    const int32_t c0 = ek_min32(g->pc, g->pcf), c1 = ek_max32(c0, ek_min32(g->pcf, g->pc + g->icn));
    const int32_t xc = g->xc, n = c1 - c0;
    const int8_t *s = x + (r0 - g->pr) * g->xr + (c0 - g->pc) * xc;
    int16_t *d = plane + r0 * g->rl;
    if (n <= 0) return;
    for (int32_t r = r0; r < r1; ++r, s += g->xr, d += g->rl) {
        if (g->dc > 1) {
            const int8_t *sp = s;
            for (int32_t c = c0; c < c1; ++c, sp += xc) d[(c % g->dc) * g->pcq + c / g->dc] = *sp;
            continue;
        }
#if EKOPT_DSP
        /* 8 elements per step: 8 LDRSB in one run (a load after a load
         * is pipelined: 9 cycles), from s and s4 = s + 4 xc at offsets 0,
         * xc, 2 xc, 3 xc; 4 PKHBT, 4 STR (unaligned STR is allowed); then
         * 4 at a time, then one at a time. */
        const int8_t *sp = s, *s4 = s + 4 * xc;
        int16_t *dp = d + c0;
        const int32_t x3 = 3 * xc;
        int32_t k = n, v0, v1, v2, v3, v4, v5, v6, v7;
        __asm__ volatile("subs %[k], %[k], #8\n\t"
                         "blt 2f\n\t"
                         "1:\n\t"
                         "ldrsb %[v0], [%[s]]\n\t"
                         "ldrsb %[v1], [%[s], %[xc]]\n\t"
                         "ldrsb %[v2], [%[s], %[xc], lsl #1]\n\t"
                         "ldrsb %[v3], [%[s], %[x3]]\n\t"
                         "ldrsb %[v4], [%[s4]]\n\t"
                         "ldrsb %[v5], [%[s4], %[xc]]\n\t"
                         "ldrsb %[v6], [%[s4], %[xc], lsl #1]\n\t"
                         "ldrsb %[v7], [%[s4], %[x3]]\n\t"
                         "add %[s], %[s], %[xc], lsl #3\n\t"
                         "add %[s4], %[s4], %[xc], lsl #3\n\t"
                         "pkhbt %[v0], %[v0], %[v1], lsl #16\n\t"
                         "pkhbt %[v2], %[v2], %[v3], lsl #16\n\t"
                         "pkhbt %[v4], %[v4], %[v5], lsl #16\n\t"
                         "pkhbt %[v6], %[v6], %[v7], lsl #16\n\t"
                         "str %[v0], [%[d]], #4\n\t"
                         "str %[v2], [%[d]], #4\n\t"
                         "str %[v4], [%[d]], #4\n\t"
                         "str %[v6], [%[d]], #4\n\t"
                         "subs %[k], %[k], #8\n\t"
                         "bge 1b\n\t"
                         "2:\n\t"
                         "adds %[k], %[k], #4\n\t"
                         "blt 3f\n\t"
                         "ldrsb %[v0], [%[s]]\n\t"
                         "ldrsb %[v1], [%[s], %[xc]]\n\t"
                         "ldrsb %[v2], [%[s], %[xc], lsl #1]\n\t"
                         "ldrsb %[v3], [%[s], %[x3]]\n\t"
                         "add %[s], %[s], %[xc], lsl #2\n\t"
                         "pkhbt %[v0], %[v0], %[v1], lsl #16\n\t"
                         "pkhbt %[v2], %[v2], %[v3], lsl #16\n\t"
                         "str %[v0], [%[d]], #4\n\t"
                         "str %[v2], [%[d]], #4\n\t"
                         "subs %[k], %[k], #4\n\t"
                         "3:\n\t"
                         "adds %[k], %[k], #4\n\t"
                         "beq 5f\n\t"
                         "4:\n\t"
                         "ldrsb %[v0], [%[s]]\n\t"
                         "add %[s], %[s], %[xc]\n\t"
                         "strh %[v0], [%[d]], #2\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 4b\n\t"
                         "5:\n\t"
                         : [s] "+r"(sp), [s4] "+r"(s4), [d] "+r"(dp), [k] "+r"(k),
                           [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3),
                           [v4] "=&r"(v4), [v5] "=&r"(v5), [v6] "=&r"(v6), [v7] "=&r"(v7)
                         : [xc] "r"(xc), [x3] "r"(x3)
                         : "memory", "cc");
#else
        const int8_t *sp = s;
        for (int32_t c = c0; c < c1; ++c, sp += xc) d[c] = *sp;
#endif
    }
}

#endif /* EKDW_PLANE */

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

/* Generic output: np tap pairs per filter row, rows tstep elements apart. */
static inline int32_t dw_dot(const int16_t *x, int32_t tstep, const int32_t *t, int32_t fr, int32_t np,
                             int32_t s) {
#if EKOPT_DSP
    for (int32_t k = 0; k < fr; ++k, x += tstep) {
        for (int32_t j = 0; j < np; ++j, ++t) s = dw_smlad(dw_ld2(x + 2 * j), *t, s);
    }
#else
    /* Without SMLAD: two halfword products per tap pair. */
    for (int32_t k = 0; k < fr; ++k, x += tstep) {
        for (int32_t j = 0; j < np; ++j, ++t) s += x[2 * j] * dw_h16(*t, 0) + x[2 * j + 1] * (*t >> 16);
    }
#endif
    return s;
}

#if EKOPT_DSP
/* dw_dot for a constant np of 2 to 5 (dw_plane_generic's cases): the tap-pair
 * loop unrolled whole (-O2 leaves the 5-pair loop rolled).  Only for constant
 * np: over a variable count the pragma adds a remainder computation per
 * filter row (59% more on the zoo LMU's 48-row, 1-wide memory filter). */
static inline int32_t dw_dot_unrolled(const int16_t *x, int32_t tstep, const int32_t *t, int32_t fr,
                                      int32_t np, int32_t s) {
    for (int32_t k = 0; k < fr; ++k, x += tstep) {
#pragma GCC unroll 5
        for (int32_t j = 0; j < np; ++j, ++t) s = dw_smlad(dw_ld2(x + 2 * j), *t, s);
    }
    return s;
}

/* dw_dot over a single filter row (fr == 1, e.g. the LMU's long 1-wide memory
 * filter, run transposed): four tap pairs per loop trip, the np % 4 left over
 * once per output rather than per row. */
static inline int32_t dw_dot_row(const int16_t *x, const int32_t *t, int32_t np, int32_t s) {
    const int32_t *const t4 = t + (np & ~3), *const te = t + np;
    for (; t != t4; t += 4, x += 8) {
        s = dw_smlad(dw_ld2(x), t[0], s);
        s = dw_smlad(dw_ld2(x + 2), t[1], s);
        s = dw_smlad(dw_ld2(x + 4), t[2], s);
        s = dw_smlad(dw_ld2(x + 6), t[3], s);
    }
    for (; t != te; ++t, x += 2) s = dw_smlad(dw_ld2(x), *t, s);
    return s;
}
#else
#define dw_dot_unrolled dw_dot
#endif

#include "ek_depthwise_conv_asm.h"

#if EKDW_THREE
/* One output channel, 3-row filters of at most 3 taps at column stride 1
 * or 2, fast requantization, rows of at least 4 outputs: assembly rows of
 * 4-output blocks and 1-output tails.  k: taps (W01, W12 per row) and
 * constants, filled by the caller. */
static void dw_plane_three(const dw_geom *g, const int16_t *plane, dw_k3 *k, int8_t *y) {
    const int32_t rstep = g->sr * g->rl, yc = g->yc, nb = g->ocn / 4;
    for (int32_t r = 0; r < g->orn; ++r, plane += rstep, y += g->yr) {
        const int16_t *x = plane;
        k->xend = (int32_t)(intptr_t)(x + 4 * g->sc * nb);
#if EKDW_THREE_S1 && EKDW_THREE_S2
        int8_t *yp = g->sc == 1 ? dw_row3_s1(k, x, y) : dw_row3_s2(k, x, y);
#elif EKDW_THREE_S1
        int8_t *yp = dw_row3_s1(k, x, y);
#else
        int8_t *yp = dw_row3_s2(k, x, y);
#endif
        x += 4 * g->sc * nb;
        for (int32_t c = 4 * nb; c < g->ocn; ++c, x += g->sc, yp += yc) dw_one3(k, x, yp);
    }
}
#endif

/* One output channel, any filter: one output per step, LDR + SMLAD per tap
 * pair (tw: np words per filter row). */
static inline __attribute__((always_inline)) void dw_plane_loop(const dw_geom *g, const int16_t *plane,
                                                                const int32_t *tw, int32_t bias,
                                                                const dw_rq *q, int8_t *y, int fast,
                                                                const int32_t fr, const int32_t np,
                                                                const int unroll) {
    const int32_t rstep = g->sr * g->rl, tstep = g->dr * g->rl, yc = g->yc;
    const int32_t cstep = g->dc > 1 ? 0 : g->sc;
    for (int32_t r = 0; r < g->orn; ++r, plane += rstep, y += g->yr) {
        int8_t *yp = y;
        const int16_t *x = plane;
        for (int32_t c = 0; c < g->ocn; ++c, yp += yc, x += cstep) {
            if (g->dc > 1) {
                const int32_t col = c * g->sc;
                x = plane + (col % g->dc) * g->pcq + col / g->dc;
            }
            const int32_t acc = unroll ? dw_dot_unrolled(x, tstep, tw, fr, np, bias)
                                       : dw_dot(x, tstep, tw, fr, np, bias);
            *yp = (int8_t)(fast ? dw_requant(acc, q, 1) : dw_requant(acc, q, 0));
        }
    }
}

#if EKDW_GENERIC && EKOPT_DSP && EKOPT_USE(EKOPT_DW_ROW1)
/* One output channel of a one-row filter without column dilation (fr == 1,
 * dc == 1: e.g. the LMU's long 1-wide memory filter, run transposed): the
 * geometry and requantization constants in locals (the int8 stores would
 * otherwise reload them), tap pairs four at a time (dw_dot_row); fast is a
 * literal at each call site. */
static inline __attribute__((always_inline)) void
dw_plane_row1(const dw_geom *g, const int16_t *plane, const int32_t *tw, int32_t bias,
              const dw_rq *q, int8_t *y, const int fast) {
    const int32_t orn = g->orn, ocn = g->ocn, np = g->np, sc = g->sc;
    const int32_t rstep = g->sr * g->rl, yr = g->yr, yc = g->yc;
    const dw_rq qq = *q;
    for (int32_t r = 0; r < orn; ++r, plane += rstep, y += yr) {
        int8_t *yp = y;
        const int16_t *x = plane;
        for (int32_t c = 0; c < ocn; ++c, yp += yc, x += sc) {
            *yp = (int8_t)dw_requant(dw_dot_row(x, tw, np, bias), &qq, fast);
        }
    }
}
#endif

#if EKDW_GENERIC
/* Any filter, variable loop bounds; kept out of line so that the unrolled
 * copies below do not change its code (inlined beside them, the zoo LMU's
 * 48-row 1-wide memory filter ran 59% slower). */
static __attribute__((noinline)) void dw_plane_any(const dw_geom *g, const int16_t *plane,
                                                   const int32_t *tw, int32_t bias,
                                                   const dw_rq *q, int8_t *y, int fast) {
#if EKOPT_DSP && EKOPT_USE(EKOPT_DW_ROW1)
    if (g->fr == 1 && g->dc == 1) {   /* one filter row: dw_plane_row1 */
        if (fast) {
            dw_plane_row1(g, plane, tw, bias, q, y, 1);
        } else {
            dw_plane_row1(g, plane, tw, bias, q, y, 0);
        }
        return;
    }
#endif
    dw_plane_loop(g, plane, tw, bias, q, y, fast, g->fr, g->np, 0);
}

static void dw_plane_generic(const dw_geom *g, const int16_t *plane, const int32_t *tw, int32_t bias,
                             const dw_rq *q, int8_t *y, int fast) {
#if !EKOPT_DSP
    /* Cores without SMLAD: 3x3 and 3x1 / 1x3 filters with constant loop
     * bounds (unrolled). */
    if (g->fr == 3 && g->np == 2) {
        dw_plane_loop(g, plane, tw, bias, q, y, fast, 3, 2, 0);
        return;
    }
    if (g->np == 2 && g->fr == 1) {
        dw_plane_loop(g, plane, tw, bias, q, y, fast, 1, 2, 0);
        return;
    }
#else
    /* 2 to 5 tap pairs per plane row (filters 3 to 10 taps along it, any
     * number of rows, e.g. 10x4 stems, 5x5, 1x7): the tap-pair loop
     * unrolled (dw_dot_unrolled), each copy only if ek_paths.h lists it
     * (EKOPT_DW_NP<n>: a layer has that count); else the rolled loop. */
    switch (g->np) {
#if EKOPT_USE(EKOPT_DW_NP2)
    case 2: dw_plane_loop(g, plane, tw, bias, q, y, fast, g->fr, 2, 1); return;
#endif
#if EKOPT_USE(EKOPT_DW_NP3)
    case 3: dw_plane_loop(g, plane, tw, bias, q, y, fast, g->fr, 3, 1); return;
#endif
#if EKOPT_USE(EKOPT_DW_NP4)
    case 4: dw_plane_loop(g, plane, tw, bias, q, y, fast, g->fr, 4, 1); return;
#endif
#if EKOPT_USE(EKOPT_DW_NP5)
    case 5: dw_plane_loop(g, plane, tw, bias, q, y, fast, g->fr, 5, 1); return;
#endif
    default: break;
    }
#endif
    dw_plane_any(g, plane, tw, bias, q, y, fast);
}
#endif /* EKDW_GENERIC */

#include "ek_depthwise_conv_group.h"  /* dw_group when EKDW_GROUP */

/* The group path is taken for depth multiplier 1 and at least 4 channels
 * when its plane (8 bytes per padded pixel) is at most half the input (the
 * group plane then costs less scratch than in-place saves), unless the
 * plane path has its 3-row fast loop over rows of at least 8 outputs
 * (ops/depthwise_conv.py: depthwise_scratch_bytes mirrors this). */
static inline int dw_use_group(const ek_conv_params *p, const dw_geom *g) {
    const int32_t gb = 8 * dw_group_rows(p) * dw_group_cols(p);
    const int three = g->fr == 3 && g->fc <= 3 && g->dc == 1 && (g->sc == 1 || g->sc == 2);
    return p->depth_multiplier == 1 && p->in_c >= 4 && p->f_h * p->f_w <= EKDW_GMAXTAPS
           && 2 * gb <= p->in_h * p->in_w * p->in_c && !(three && g->ocn >= 8);
}

void ek_depthwise_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                            const int32_t *bias, int8_t *out, int8_t *scratch) {
    const dw_geom g = dw_geometry(p);
    if (!scratch || g.fr * (g.np + 1) > EKDW_MAXPAIRS) {
#if EKOPT_USE(EKOPT_DW_REF)
        ek_depthwise_conv_reference(p, in, filter, bias, out, scratch);
        return;
#else
        EKOPT_NOT_LISTED();
#endif
    }
    const int32_t C = p->in_c;
    int32_t c_first = 0;
    (void)c_first, (void)C, (void)in, (void)filter, (void)bias, (void)out;  /* paths left out */
    if (dw_use_group(p, &g)) {
#if !EKDW_GROUP
        EKOPT_NOT_LISTED();
#else
        const uint32_t z2 = (uint32_t)dw_pack(-p->in_offset, -p->in_offset);
        const int32_t words = 2 * dw_group_rows(p) * dw_group_cols(p);
        int32_t *gp = (int32_t *)(void *)scratch;
        for (int32_t i = 0; i < words; ++i) gp[i] = (int32_t)z2;
        c_first = C & ~3;
        for (int32_t b = 0; b < p->batches; ++b) {
            const int8_t *xb = in + (int64_t)b * p->in_h * p->in_w * C;
            int8_t *yb = out + (int64_t)b * p->out_h * p->out_w * p->out_c;
            for (int32_t c = 0; c < c_first; c += 4) dw_group(p, xb, filter, bias, yb, gp, c);
        }
        if (c_first == C) return;
#endif
    }
#if !EKDW_PLANE
    EKOPT_NOT_LISTED();
#else
    const int32_t m = p->depth_multiplier, OC = p->out_c;
    const int full = p->act_min <= -128 && p->act_max >= 127;
    /* 3-tap rows at column stride 1 or 2 with rows of 4 outputs or more:
     * the assembly rows (taps (w0, w1), (w1, w2) per row) when the channel
     * has the fast requantization. */
    const int three = EKOPT_DSP && g.fr == 3 && g.fc <= 3 && g.dc == 1 && (g.sc == 1 || g.sc == 2)
                      && g.ocn >= 4;
    /* Filter element (row r, column c) of output channel 0. */
    const int32_t wr = g.transposed ? OC : p->f_w * OC, wc = g.transposed ? p->f_w * OC : OC;
    int16_t *plane = (int16_t *)(void *)scratch;
    /* Padding (and the 2 elements read past the end): the input zero point,
     * stored as int16 like every other access to the plane. */
    for (int32_t i = 0, n = g.prn * g.rl + 2; i < n; ++i) plane[i] = (int16_t)(-p->in_offset);
    int32_t tw[EKDW_MAXPAIRS];
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *xb = in + (int64_t)b * p->in_h * p->in_w * C;
        int8_t *yb = out + (int64_t)b * p->out_h * p->out_w * OC;
        for (int32_t ic = c_first; ic < C; ++ic) {
            dw_gather(&g, xb + ic, plane);
            for (int32_t k = 0; k < m; ++k) {
                const int32_t oc = ic * m + k;
                const int32_t mult = p->mult[oc], shift = p->shift[oc], rr = -shift;
                dw_rq q = {mult, shift, 0, 0, p->out_offset, p->act_min, p->act_max};
                const int fast = full && mult > 0 && rr >= 2 && rr <= 22;
                if (fast) {
                    q.hc = (int32_t)((uint32_t)(1 + 2 * p->out_offset) << (rr - 2));
                    q.rs = rr - 1;
                }
                const int8_t *f = filter + oc;
                int32_t wsum = 0, n = 0;
                for (int32_t r = 0; r < g.fr; ++r) {
                    const int8_t *fr = f + (int64_t)r * wr;
                    if (three && fast) {
                        const int32_t w0 = fr[0], w1 = g.fc > 1 ? fr[wc] : 0, w2 = g.fc > 2 ? fr[2 * wc] : 0;
                        tw[n++] = dw_pack(w0, w1);
                        tw[n++] = dw_pack(w1, w2);
                        wsum += w0 + w1 + w2;
                        continue;
                    }
                    for (int32_t j = 0; j < g.fc; j += 2) {
                        const int32_t w0 = fr[(int64_t)j * wc], w1 = j + 1 < g.fc ? fr[(int64_t)(j + 1) * wc] : 0;
                        tw[n++] = dw_pack(w0, w1);
                        wsum += w0 + w1;
                    }
                }
                /* Input offset folded into the bias: the padding holds the
                 * input zero point, so every tap adds (x + offset) * w. */
                const int32_t bo = (int32_t)((uint32_t)(bias ? bias[oc] : 0) + (uint32_t)(p->in_offset * wsum));
                if (three && fast) {
                    if (!(g.sc == 1 ? EKDW_THREE_S1 : EKDW_THREE_S2)) EKOPT_NOT_LISTED();
#if EKDW_THREE
                    dw_k3 kc;
                    for (int32_t i = 0; i < 6; ++i) kc.w[i] = tw[i];
                    kc.bias = bo, kc.hc = q.hc, kc.mult = q.mult, kc.rs = q.rs, kc.yc = g.yc;
                    kc.ts = 2 * g.dr * g.rl, kc.ts2 = 4 * g.dr * g.rl;
                    dw_plane_three(&g, plane, &kc, yb + oc);
                    continue;
#endif
                }
#if EKDW_GENERIC
                dw_plane_generic(&g, plane, tw, bo, &q, yb + oc, fast);
#else
                EKOPT_NOT_LISTED();
#endif
            }
        }
    }
#endif /* EKDW_PLANE */
}
