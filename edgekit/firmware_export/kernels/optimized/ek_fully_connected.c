/* edgekit: FULLY_CONNECTED, int8 input, int8 weights [units, accum], int32 bias.
 *
 * Optimized version of kernels/ek_fully_connected.c: same function, same
 * results bit for bit (exact int32 sums in any order; requantization per
 * output as ek_mbqm, see ekopt_rq_apply).
 *
 * Fast path (filter_offset == 0, i.e. symmetric int8 weights):
 *   - two units per pass over the input row, so each input element loaded
 *     feeds two multiply-accumulates;
 *   - on DSP cores (8 <= accum <= EKOPT_FC_MAXACC) the input row (plus the
 *     input offset) is first widened once into a stack buffer of halfword
 *     pairs (x0, x2), (x1, x3), ..., the pairing SXTB16 gives for a weight
 *     word and its rotation by 8.  Per eight inputs and two units: one LDM
 *     of the four widened words, then per unit one LDRD, four SXTB16 and
 *     four SMLAD (19 instructions per 16 MACs), in one asm block with the
 *     unit loop, its bias loads, requantization (ekopt_rq2) and stores
 *     (ekopt_fc_units_fast) for the even units when rows are word-aligned,
 *     accum % 8 == 0, there is a bias (or, when ek_paths.h lists
 *     EKOPT_FC_UNITS_NOBIAS, none: blocks of EKFC_QBLK units over a stack
 *     block of zeros), the generator gave the requantization
 *     table p->rq (every unit's ekopt_rq2 constants with the output offset
 *     folded: ops/fully_connected.py rq2_table) and the range is all of
 *     int8; else (and for a last, odd unit, twice) one LDR per four weights
 *     in C, the last accum % 4 weights of a row as one word (the word ending
 *     the row, shifted right) against the widened input tail: no per-MAC
 *     loop; requantization by the table, else ekopt_rq2 made per unit where
 *     it applies;
 *   - one unit: no widening, sixteen inputs per trip (LDRD when the input
 *     row and the weights are word-aligned);
 *   - on DSP cores, 9 <= accum <= 15 with the generator's table: a
 *     function per row length a layer has (ek_fc_tiny.h, EKOPT_FC_TINY<A>),
 *     the input row widened in registers;
 *   - on DSP cores, accum < 8: a unit per pass, the MACs in a plain loop,
 *     the requantization by the table (SSAT for all of int8), else made
 *     per unit;
 *   - other cores (and the host build) run the two-unit loop in plain C.
 * Only the paths ek_paths.h lists are compiled (EKOPT_USE; the choice per
 * layer is mirrored by ops/fully_connected.py fc_paths): the reference
 * loop, the asm unit loop, the C loop over the widened row and the loop
 * for accum < 8 (DSP cores), and the plain-C loop (DSP cores outside the
 * widened path's range / others).
 * A choice that ek_paths.h leaves out traps (EKOPT_NOT_LISTED).
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_fully_connected_ref.h"
#include "ek_fc_tiny.h"

#if EKOPT_DSP
#define EKFC_UNITS EKOPT_USE(EKOPT_FC_UNITS)
#define EKFC_LOOP EKOPT_USE(EKOPT_FC_LOOP)
#define EKFC_PLAIN EKOPT_USE(EKOPT_FC_PLAIN_DSP)
#define EKFC_SMALL EKOPT_USE(EKOPT_FC_SMALL)
#else
#define EKFC_SMALL 0
#define EKFC_UNITS 0
#define EKFC_LOOP 0
#define EKFC_PLAIN EKOPT_USE(EKOPT_FC_PLAIN_C)
#endif

#if EKOPT_DSP
#define EKOPT_FC_MAXACC 1024  /* input row length widened on the stack (2 KB) */

/* Eight inputs (four widened words, one LDM) for two units: per unit one
 * LDRD of eight weights (rows word-aligned), four SXTB16, four SMLAD: 19
 * instructions per 16 MACs. */
#define EKOPT_FC2_UNIT(W, S)                                                    \
    "ldrd   %[w0], %[w1], [%[" W "]], #8\n\t"                                   \
    "sxtb16 %[t], %[w0], ror #8\n\t"                                            \
    "sxtb16 %[w0], %[w0]\n\t"                                                   \
    "smlad  %[" S "], %[x0], %[w0], %[" S "]\n\t"                               \
    "smlad  %[" S "], %[x1], %[t], %[" S "]\n\t"                                \
    "sxtb16 %[t], %[w1], ror #8\n\t"                                            \
    "sxtb16 %[w1], %[w1]\n\t"                                                   \
    "smlad  %[" S "], %[x2], %[w1], %[" S "]\n\t"                               \
    "smlad  %[" S "], %[x3], %[t], %[" S "]\n\t"
#define EKOPT_FC2_STEP                                                          \
    "ldmia  %[x]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"                            \
    EKOPT_FC2_UNIT("wa", "s0") EKOPT_FC2_UNIT("wb", "s1")

/* The common case, all of the unit loop in one asm block: rows
 * word-aligned, accum % 8 == 0 (>= 8), an even number of units, a bias
 * (zeros when the layer has none), one ekopt_rq2 q for all units with the
 * output offset folded, activation range all of int8 (SSAT).  Per pair of units: the bias pair (LDRD), the
 * steps of eight inputs over xw (widened input row,
 * ending at end), eight per loop trip, the first trip entered part-way
 * (TBH on entry = (8 - steps % 8) % 8), two fused requantizations, two stores; the
 * loop's state lives in this frame (SP-relative operands). */
#if EKFC_UNITS
/* The unit loop; QA loads unit u's constants into x0..x3 (x0 = clo,
 * x1 = chi, x2 = mult, x3 = rs1), QB unit u + 1's after the first
 * requantization (x is its scratch, t is free to hold a table pointer). */
#define EKOPT_FC_ASM(QA, QB)                                                    \
    __asm__ volatile("1:\n\t"                                                   \
                     "ldr    %[x], %[xw0]\n\t"                                  \
                     "ldrd   %[s0], %[s1], [%[bp]], #8\n\t"                     \
                     "ldr    %[t], %[n]\n\t"                                    \
                     "tbh    [pc, %[t], lsl #1]\n\t"                            \
                     "2:\n\t"                                                   \
                     ".hword (3f - 2b) / 2, (4f - 2b) / 2, (5f - 2b) / 2, (6f - 2b) / 2\n\t" \
                     ".hword (7f - 2b) / 2, (8f - 2b) / 2, (9f - 2b) / 2, (10f - 2b) / 2\n\t" \
                     "3:\n\t" EKOPT_FC2_STEP                                    \
                     "4:\n\t" EKOPT_FC2_STEP                                    \
                     "5:\n\t" EKOPT_FC2_STEP                                    \
                     "6:\n\t" EKOPT_FC2_STEP                                    \
                     "7:\n\t" EKOPT_FC2_STEP                                    \
                     "8:\n\t" EKOPT_FC2_STEP                                    \
                     "9:\n\t" EKOPT_FC2_STEP                                    \
                     "10:\n\t" EKOPT_FC2_STEP                                   \
                     "ldr    %[t], %[e]\n\t"                                    \
                     "cmp    %[x], %[t]\n\t"                                    \
                     "bne    3b\n\t"                                            \
                     QA                                                         \
                     "and    %[x], %[s0], #0x80000000\n\t"                      \
                     "adds   %[w0], %[x0], %[x]\n\t"                            \
                     "adc    %[w1], %[x1], %[s0], asr #31\n\t"                  \
                     "smlal  %[w0], %[w1], %[s0], %[x2]\n\t"                    \
                     "asr    %[w1], %[w1], %[x3]\n\t"                           \
                     "ssat   %[s0], #8, %[w1]\n\t"                              \
                     QB                                                         \
                     "and    %[x], %[s1], #0x80000000\n\t"                      \
                     "adds   %[w0], %[x0], %[x]\n\t"                            \
                     "adc    %[w1], %[x1], %[s1], asr #31\n\t"                  \
                     "smlal  %[w0], %[w1], %[s1], %[x2]\n\t"                    \
                     "asr    %[w1], %[w1], %[x3]\n\t"                           \
                     "ssat   %[s1], #8, %[w1]\n\t"                              \
                     "strb   %[s0], [%[yp]], #1\n\t"                            \
                     "strb   %[s1], [%[yp]], #1\n\t"                            \
                     /* wa, wb have moved one row on: rows u + 1, u + 2. */     \
                     "ldr    %[t], %[A]\n\t"                                    \
                     "mov    %[wa], %[wb]\n\t"                                  \
                     "add    %[wb], %[wb], %[t]\n\t"                            \
                     "ldr    %[t], %[we]\n\t"                                   \
                     "cmp    %[wa], %[t]\n\t"                                   \
                     "bne    1b\n\t"                                            \
                     : [s0] "=&r"(s0), [s1] "=&r"(s1), [x] "=&r"(x),            \
                       [wa] "+r"(wa), [wb] "+r"(wb), [w0] "=&r"(w0),            \
                       [w1] "=&r"(w1), [t] "=&r"(t), [x0] "=&r"(x0), [x1] "=&r"(x1), \
                       [x2] "=&r"(x2), [x3] "=&r"(x3), [bp] "+r"(bp), [yp] "+r"(yp), \
                       [qp] "+m"(qp)                                            \
                     : [e] "m"(xend), [n] "m"(n), [xw0] "m"(xw0), [A] "m"(rowlen), \
                       [we] "m"(wend), [q01] "m"(ql[0]), [q23] "m"(ql[2])       \
                     : "cc", "memory")

/* All of the unit loop in one asm block: rows word-aligned, accum % 8 == 0
 * (>= 8), an even number of units, a bias (zeros when the layer has none),
 * every unit's requantization an
 * ekopt_rq2 with the output offset folded, activation range all of int8
 * (SSAT).  Per pair of units: the bias pair (LDRD), the steps of eight
 * inputs over xw (widened input row, ending at end), eight per loop trip,
 * the first trip entered part-way (TBH on entry = (8 - steps % 8) % 8), two
 * fused requantizations, two stores; the loop's state lives in this frame
 * (SP-relative operands).  qv: {clo, chi, mult, rs1} of one q for all units
 * (pc == 0), or of each unit, 16 bytes apart (pc: path EKOPT_FC_UNITS_PC,
 * two more LDRD, an LDR and a STR per pair). */
static __attribute__((noinline)) void
ekopt_fc_units_fast(const int32_t *xw, const int32_t *end, int32_t entry, const int8_t *w,
                    const int32_t *bias, int8_t *y, int32_t units, int32_t A,
                    const int32_t *qv, int pc) {
    register int32_t x0 __asm__("r4"), x1 __asm__("r5"), x2 __asm__("r6"), x3 __asm__("r8");
    const int32_t *xw0 = xw, *xend = end, *bp = bias, *qp = qv;
    const int8_t *wend = w + (int64_t)units * A;
    int8_t *yp = y;
    int32_t n = entry, rowlen = A;
    const int8_t *wa = w, *wb = w + A;
    const int32_t *x;
    int32_t s0, s1, w0, w1, t;
    const int32_t ql[4] = {qv[0], qv[1], qv[2], qv[3]};   /* in this frame: SP-relative */
    (void)pc;
#if EKOPT_USE(EKOPT_FC_UNITS_PC)
    if (pc) {
        EKOPT_FC_ASM("ldr    %[t], %[qp]\n\t"
                     "ldrd   %[x0], %[x1], [%[t]]\n\t"
                     "ldrd   %[x2], %[x3], [%[t], #8]\n\t",
                     "ldrd   %[x0], %[x1], [%[t], #16]\n\t"
                     "ldrd   %[x2], %[x3], [%[t], #24]\n\t"
                     "add    %[t], %[t], #32\n\t"
                     "str    %[t], %[qp]\n\t");
        return;
    }
#endif
    EKOPT_FC_ASM("ldrd   %[x0], %[x1], %[q01]\n\t"
                 "ldrd   %[x2], %[x3], %[q23]\n\t", "");
}
#undef EKOPT_FC_ASM
#endif /* EKFC_UNITS */

/* Requantization of one channel (or of all, per tensor): ekopt_rq2 where
 * it applies (with the part of the output offset it does not fold), else
 * ekopt_rq. */
typedef struct {
    ekopt_rq2 q2;
    ekopt_rq q;
    int32_t fast, zadd;
} ekopt_fc_rq;

static inline void ekopt_fc_rq_make(ekopt_fc_rq *r, int32_t m, int32_t sh, int32_t zp) {
    r->fast = ekopt_rq2_ok(m, sh);
    const int32_t zf = r->fast ? ekopt_rq2_zp(sh, zp) : 0;
    r->q2 = ekopt_rq2_make(r->fast ? m : 0, r->fast ? sh : -1, zf);
    r->q = ekopt_rq_make(m, sh);
    r->zadd = zp - zf;
}

#if EKFC_LOOP || EKFC_SMALL
/* Requantization by the generator's constants q = p->rq (+ 4 per unit per
 * channel): ekopt_rq2 with the output offset folded, then the clamp. */
static inline int8_t ekopt_fc_rq_tab(const int32_t *q, int32_t acc, int32_t lo, int32_t hi) {
    const ekopt_rq2 r2 = {q[2], q[3], (uint32_t)q[0], q[1]};
    return (int8_t)ek_clamp32(ekopt_rq2_apply(acc, &r2), lo, hi);
}
#endif

#if EKFC_LOOP
static __attribute__((noinline)) int32_t ekopt_fc_rq_slow(const ekopt_fc_rq *r, int32_t acc) {
    return ekopt_rq_apply(acc, &r->q);
}

static inline int8_t ekopt_fc_rq_out(const ekopt_fc_rq *r, int32_t acc, int32_t lo, int32_t hi) {
    const int32_t v = (r->fast ? ekopt_rq2_apply(acc, &r->q2) : ekopt_fc_rq_slow(r, acc))
                      + r->zadd;
    return (int8_t)ek_clamp32(v, lo, hi);
}
#endif /* EKFC_LOOP */

#if EKFC_LOOP || EKFC_SMALL
/* Unit u's requantization, per channel: the ekopt_rq2 constants made
 * inline (no table, no ekopt_rq), ekopt_fc_rq_make only where they do not
 * apply. */
static __attribute__((noinline)) int32_t ekopt_fc_rq_unit_slow(const ek_fc_params *p, int32_t u,
                                                               int32_t acc) {
    ekopt_fc_rq r;
    ekopt_fc_rq_make(&r, p->mult[u], p->shift[u], p->out_offset);
    return ekopt_rq_apply(acc, &r.q) + p->out_offset;
}

static inline int8_t ekopt_fc_rq_unit(const ek_fc_params *p, int32_t u, int32_t acc, int32_t lo,
                                      int32_t hi) {
    const int32_t m = p->mult[u], sh = p->shift[u];
    int32_t v;
    if (ekopt_rq2_ok(m, sh)) {
        const int32_t zf = ekopt_rq2_zp(sh, p->out_offset);
        const ekopt_rq2 q = ekopt_rq2_make(m, sh, zf);
        v = ekopt_rq2_apply(acc, &q) + (p->out_offset - zf);
    } else {
        v = ekopt_fc_rq_unit_slow(p, u, acc);
    }
    return (int8_t)ek_clamp32(v, lo, hi);
}
#endif /* EKFC_LOOP || EKFC_SMALL */

#if EKFC_SMALL
/* One row of ekopt_fc_small by the generator's table q (a row per unit
 * when qs = 4, else one); full: the activation range is all of int8 (SSAT). */
static inline __attribute__((always_inline)) void
ekopt_fc_small_tab(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                   int32_t A, int32_t units, int32_t off, const int32_t *q, int32_t qs,
                   int32_t lo, int32_t hi, int full) {
    for (int32_t u = 0; u < units; ++u, w += A, q += qs) {
        int32_t s = bias ? bias[u] : 0;
        for (int32_t d = 0; d < A; ++d) s += (x[d] + off) * w[d];
        const ekopt_rq2 r2 = {q[2], q[3], (uint32_t)q[0], q[1]};
        const int32_t v = ekopt_rq2_apply(s, &r2);
        y[u] = (int8_t)(full ? __ssat(v, 8) : ek_clamp32(v, lo, hi));
    }
}

/* accum < 8 (DSP cores): a unit per pass, its few MACs in a plain loop,
 * its requantization by the generator's table, else ekopt_fc_rq_unit's
 * (unit 0's per tensor). */
static __attribute__((noinline)) void ekopt_fc_small(const ek_fc_params *p, const int8_t *in,
                                                     const int8_t *filter, const int32_t *bias,
                                                     int8_t *out) {
    const int32_t A = p->accum, units = p->units, off = p->in_offset;
    const int32_t lo = p->act_min, hi = p->act_max, pc = p->per_channel;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (int64_t)b * A;
        int8_t *y = out + (int64_t)b * units;
        if (p->rq && lo == -128 && hi == 127) {
            ekopt_fc_small_tab(x, filter, bias, y, A, units, off, p->rq, pc ? 4 : 0, lo, hi, 1);
        } else if (p->rq) {
            ekopt_fc_small_tab(x, filter, bias, y, A, units, off, p->rq, pc ? 4 : 0, lo, hi, 0);
        } else {
            const int8_t *w = filter;
            for (int32_t u = 0; u < units; ++u, w += A) {
                int32_t s = bias ? bias[u] : 0;
                for (int32_t d = 0; d < A; ++d) s += (x[d] + off) * w[d];
                y[u] = ekopt_fc_rq_unit(p, pc ? u : 0, s, lo, hi);
            }
        }
    }
}
#endif /* EKFC_SMALL */

#if EKFC_LOOP
/* Units u0 .. units - 1 of one row, two per pass (the last, odd one
 * twice, stored once): xw the widened input row (A / 4 word pairs), xt0,
 * xt1 its last A % 4 inputs widened the same way; requantization by the
 * generator's table, else per tensor r's, per channel each unit's
 * (ekopt_fc_rq_unit). */
static inline void
ekopt_fc_loop(const ek_fc_params *p, const int32_t *xw, int32_t xt0, int32_t xt1,
              const int8_t *filter, const int32_t *bias, int8_t *y, int32_t u0,
              const ekopt_fc_rq *rp) {
    const int32_t A = p->accum, units = p->units, words = A >> 2, tail = A & 3;
    const int32_t tsh = 32 - 8 * (tail ? tail : 1);   /* tail weights: their word's shift */
    const int32_t lo = p->act_min, hi = p->act_max, pc = p->per_channel;
    const int32_t *rq = p->rq;
    for (int32_t u = u0; u < units; u += 2) {
        /* Odd units: the last one is computed twice, stored once. */
        const int32_t u1 = u + 1 < units ? u + 1 : u;
        const int8_t *wa = filter + (int64_t)u * A, *wb = filter + (int64_t)u1 * A;
        int32_t s0 = bias ? bias[u] : 0, s1 = bias ? bias[u1] : 0;
        /* One (unaligned) LDR per four weights, C intrinsics: the
         * LDRD loop is the fast case's only, for flash. */
        for (int32_t j = 0; j < words; ++j) {
            const int32_t va = ekopt_ld4(wa + 4 * j), vb = ekopt_ld4(wb + 4 * j);
            s0 = __smlad(xw[2 * j], __sxtb16(va), s0);
            s0 = __smlad(xw[2 * j + 1], ekopt_sxtb16_hi(va), s0);
            s1 = __smlad(xw[2 * j], __sxtb16(vb), s1);
            s1 = __smlad(xw[2 * j + 1], ekopt_sxtb16_hi(vb), s1);
        }
        if (tail) {
            /* The row's last A % 4 weights in the low bytes of a word,
             * zeros above: the word ending the row (A >= 8), shifted right. */
            const uint32_t ta = (uint32_t)ekopt_ld4(wa + A - 4) >> tsh;
            const uint32_t tb = (uint32_t)ekopt_ld4(wb + A - 4) >> tsh;
            s0 = __smlad(xt0, __sxtb16((int32_t)ta), s0);
            s0 = __smlad(xt1, ekopt_sxtb16_hi((int32_t)ta), s0);
            s1 = __smlad(xt0, __sxtb16((int32_t)tb), s1);
            s1 = __smlad(xt1, ekopt_sxtb16_hi((int32_t)tb), s1);
        }
        if (rq) {
            y[u] = ekopt_fc_rq_tab(rq + (pc ? 4 * u : 0), s0, lo, hi);
            y[u1] = ekopt_fc_rq_tab(rq + (pc ? 4 * u1 : 0), s1, lo, hi);
        } else if (pc) {
            y[u] = ekopt_fc_rq_unit(p, u, s0, lo, hi);
            y[u1] = ekopt_fc_rq_unit(p, u1, s1, lo, hi);
        } else {
            y[u] = ekopt_fc_rq_out(rp, s0, lo, hi);
            y[u1] = ekopt_fc_rq_out(rp, s1, lo, hi);
        }
    }
}
#endif /* EKFC_LOOP */
#endif /* EKOPT_DSP */

#if EKFC_UNITS || EKFC_LOOP
#define EKFC_QBLK 32  /* units per asm call of a layer without bias (its zeros: 128 bytes of stack) */

/* 8 <= accum <= EKOPT_FC_MAXACC, output offset in [-128, 127]. */
static void ekopt_fc_dsp(const ek_fc_params *p, const int8_t *in, const int8_t *filter,
                         const int32_t *bias, int8_t *out) {
    int32_t xw[EKOPT_FC_MAXACC / 2];
    const int32_t A = p->accum, off = p->in_offset, off2 = ekopt_off2(off);
    const int32_t steps = A >> 3, units = p->units, words = A >> 2, tail = A & 3;
    const int32_t *end = xw + 4 * steps, entry = (8 - (steps & 7)) & 7;
    const int32_t lo = p->act_min, hi = p->act_max, pc = p->per_channel;
    const int aligned = ((uintptr_t)filter & 3) == 0 && (A & 3) == 0;
    const int32_t *rq = p->rq;
    ekopt_fc_rq r;
    /* The asm unit loop takes the even units when the generator gave the
     * requantization table (every unit's requantization ekopt_rq2 with the
     * output offset folded); the loops in C make their constants else.  A
     * layer without bias only when ek_paths.h lists EKOPT_FC_UNITS_NOBIAS
     * (ops/fully_connected.py: a layer of the model without bias is large). */
    const int fast = rq && aligned && (A & 7) == 0
                     && (bias || EKOPT_USE(EKOPT_FC_UNITS_NOBIAS)) && lo == -128 && hi == 127;
    if (!rq) ekopt_fc_rq_make(&r, p->mult[0], p->shift[0], p->out_offset);
    const int32_t ue = fast ? units & ~1 : 0;
#if !EKOPT_USE(EKOPT_FC_UNITS_PC)
    if (ue && pc) EKOPT_NOT_LISTED();
#endif
#if EKFC_UNITS
#if EKOPT_USE(EKOPT_FC_UNITS_NOBIAS)
    /* No bias (e.g. the LMU's hidden layer): the asm loop reads zeros,
     * EKFC_QBLK units at a time. */
    int32_t zb[EKFC_QBLK];
    if (!bias) memset(zb, 0, sizeof zb);
#endif
#else
    (void)end, (void)entry;
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (int64_t)b * A;
        int8_t *y = out + (int64_t)b * units;
#if EKFC_LOOP
        if (units == 1) {
            /* One unit: no widening (it would not be shared), input and
             * weight words extended as they are loaded. */
            const int8_t *w = filter;
            int32_t s0 = bias ? bias[0] : 0, d = 0;
            /* Sixteen inputs per trip: by LDRD (input and weights
             * word-aligned) or by unaligned LDR. */
#define EKFC_MAC4(vx, vw)                                                       \
    do {                                                                        \
        s0 = __smlad(__sxtab16(off2, vx), __sxtb16(vw), s0);                    \
        s0 = __smlad(ekopt_sxtab16_hi(off2, vx), ekopt_sxtb16_hi(vw), s0);      \
    } while (0)
#define EKFC_LDRD(p, a, b) __asm__("ldrd %0, %1, [%2], #8" : "=r"(a), "=r"(b), "+r"(p))
            if ((((uintptr_t)x | (uintptr_t)w) & 3) == 0) {
                const int8_t *xp = x, *wp = w;
                for (; d + 16 <= A; d += 16) {
                    int32_t x0, x1, w0, w1;
                    EKFC_LDRD(xp, x0, x1);
                    EKFC_LDRD(wp, w0, w1);
                    EKFC_MAC4(x0, w0);
                    EKFC_MAC4(x1, w1);
                    EKFC_LDRD(xp, x0, x1);
                    EKFC_LDRD(wp, w0, w1);
                    EKFC_MAC4(x0, w0);
                    EKFC_MAC4(x1, w1);
                }
            } else {
                for (; d + 16 <= A; d += 16) {
                    EKFC_MAC4(ekopt_ld4(x + d), ekopt_ld4(w + d));
                    EKFC_MAC4(ekopt_ld4(x + d + 4), ekopt_ld4(w + d + 4));
                    EKFC_MAC4(ekopt_ld4(x + d + 8), ekopt_ld4(w + d + 8));
                    EKFC_MAC4(ekopt_ld4(x + d + 12), ekopt_ld4(w + d + 12));
                }
            }
#undef EKFC_LDRD
#undef EKFC_MAC4
            for (; d + 8 <= A; d += 8) {
                const int32_t vx = ekopt_ld4(x + d), vw = ekopt_ld4(w + d);
                const int32_t ux = ekopt_ld4(x + d + 4), uw = ekopt_ld4(w + d + 4);
                s0 = __smlad(__sxtab16(off2, vx), __sxtb16(vw), s0);
                s0 = __smlad(ekopt_sxtab16_hi(off2, vx), ekopt_sxtb16_hi(vw), s0);
                s0 = __smlad(__sxtab16(off2, ux), __sxtb16(uw), s0);
                s0 = __smlad(ekopt_sxtab16_hi(off2, ux), ekopt_sxtb16_hi(uw), s0);
            }
            for (; d + 4 <= A; d += 4) {
                const int32_t vx = ekopt_ld4(x + d), vw = ekopt_ld4(w + d);
                s0 = __smlad(__sxtab16(off2, vx), __sxtb16(vw), s0);
                s0 = __smlad(ekopt_sxtab16_hi(off2, vx), ekopt_sxtb16_hi(vw), s0);
            }
            for (; d < A; ++d) s0 += (x[d] + off) * w[d];
            y[0] = rq ? ekopt_fc_rq_tab(rq, s0, lo, hi) : ekopt_fc_rq_out(&r, s0, lo, hi);
            continue;
        }
#endif
        /* The input row plus offset, widened once: pairs (x0, x2), (x1, x3),
         * the pairing SXTB16 gives for a weight word and its rotation by 8. */
        for (int32_t j = 0; j < words; ++j) {
            const int32_t v = ekopt_ld4(x + 4 * j);
            xw[2 * j] = __sxtab16(off2, v);
            xw[2 * j + 1] = ekopt_sxtab16_hi(off2, v);
        }
        if (ue) {
#if EKFC_UNITS
#if EKOPT_USE(EKOPT_FC_UNITS_NOBIAS)
            if (!bias) {
                /* blocks of EKFC_QBLK units over the zeros */
                for (int32_t u0 = 0; u0 < ue; u0 += EKFC_QBLK) {
                    const int32_t nb = ek_min32(EKFC_QBLK, ue - u0);
                    ekopt_fc_units_fast(xw, end, entry, filter + (int64_t)u0 * A, zb, y + u0,
                                        nb, A, pc ? rq + 4 * u0 : rq, pc);
                }
            } else
#endif
            ekopt_fc_units_fast(xw, end, entry, filter, bias, y, ue, A, rq, pc);
#else
            EKOPT_NOT_LISTED();
#endif
        }
        if (ue == units) continue;
#if !EKFC_LOOP
        (void)tail;
        EKOPT_NOT_LISTED();
#else
        /* The last A % 4 inputs (plus offset) as one widened word pair;
         * inputs past the row pair with zero weights (see below). */
        int32_t xt0 = 0, xt1 = 0;
        if (tail) {
            uint32_t v = 0;
            for (int32_t i = 0; i < tail; ++i) v |= (uint32_t)(uint8_t)x[A - tail + i] << (8 * i);
            xt0 = __sxtab16(off2, (int32_t)v);
            xt1 = ekopt_sxtab16_hi(off2, (int32_t)v);
        }
        ekopt_fc_loop(p, xw, xt0, xt1, filter, bias, y, ue, &r);
#endif /* EKFC_LOOP */
    }
}
#endif /* EKFC_UNITS || EKFC_LOOP */

void ek_fully_connected_s8(const ek_fc_params *p, const int8_t *in, const int8_t *filter,
                           const int32_t *bias, int8_t *out) {
#if EKFC_TINY
    /* Rows of EKFC_TINY_MIN .. EKFC_TINY_MAX inputs with the generator's
     * table (ek_fc_tiny.h, which checks its own conditions): first, since
     * their few MACs make the checks below a large part of the call. */
    if (ekopt_fc_tiny(p, in, out)) return;
#endif
    const int32_t nq = p->per_channel ? p->units : 1;
    /* A requantization table: the generator checked the multipliers. */
    if (p->filter_offset != 0 || (!p->rq && !ekopt_rq_ok(p->mult, p->shift, nq))) {
#if EKOPT_USE(EKOPT_FC_REF)
        ek_fully_connected_reference(p, in, filter, bias, out);
        return;
#else
        EKOPT_NOT_LISTED();
#endif
    }
    const int32_t A = p->accum, off = p->in_offset;
#if EKOPT_DSP
    if (A >= 1 && A < 8 && p->out_offset >= -128 && p->out_offset <= 127) {
#if EKFC_SMALL
        ekopt_fc_small(p, in, filter, bias, out);
        return;
#else
        EKOPT_NOT_LISTED();
#endif
    }
    if (A >= 8 && A <= EKOPT_FC_MAXACC && p->out_offset >= -128 && p->out_offset <= 127) {
#if EKFC_UNITS || EKFC_LOOP
        ekopt_fc_dsp(p, in, filter, bias, out);
        return;
#else
        EKOPT_NOT_LISTED();
#endif
    }
#endif
#if !EKFC_PLAIN
    (void)off, (void)A, (void)in, (void)filter, (void)bias, (void)out;
    EKOPT_NOT_LISTED();
#else
    ekopt_rq q = ekopt_rq_make(p->mult[0], p->shift[0]);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (int64_t)b * A;
        int8_t *y = out + (int64_t)b * p->units;
        for (int32_t u = 0; u < p->units; u += 2) {
            /* Odd units: the last one is computed twice, stored once. */
            const int32_t u1 = u + 1 < p->units ? u + 1 : u;
            const int8_t *wa = filter + (int64_t)u * A, *wb = filter + (int64_t)u1 * A;
            int32_t s0 = bias ? bias[u] : 0, s1 = bias ? bias[u1] : 0;
            for (int32_t d = 0; d < A; ++d) {
                const int32_t v = x[d] + off;
                s0 += v * wa[d];
                s1 += v * wb[d];
            }
            if (p->per_channel) q = ekopt_rq_make(p->mult[u], p->shift[u]);
            y[u] = (int8_t)ek_clamp32(ekopt_rq_apply(s0, &q) + p->out_offset, p->act_min, p->act_max);
            if (u1 != u) {
                if (p->per_channel) q = ekopt_rq_make(p->mult[u1], p->shift[u1]);
                y[u1] = (int8_t)ek_clamp32(ekopt_rq_apply(s1, &q) + p->out_offset, p->act_min,
                                           p->act_max);
            }
        }
    }
#endif /* EKFC_PLAIN */
}
