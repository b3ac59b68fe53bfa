/* edgekit: FULLY_CONNECTED int8, the path of short input rows
 * (EKFC_TINY_MIN .. EKFC_TINY_MAX inputs, 1 .. EKFC_TINY_UNITS units,
 * activation range all of int8, DSP cores), included by
 * ek_fully_connected.c.
 *
 * A layer of a few inputs (e.g. 13 -> 7) spent most of the C loop over
 * the widened row (ekopt_fc_loop) on spills and per-pass bookkeeping.
 * Here the row length A is a compile-time constant: a path per A that a
 * layer of the model has (EKOPT_FC_TINY<A> in ek_paths.h, listed by
 * ops/fully_connected.py fc_paths; a length no layer has is not
 * compiled).  The input row (plus the input offset) is widened once into
 * registers (SXTAB16 pairs (x0, x2), (x1, x3) per four inputs, the last
 * A % 4 inputs as one more word); the generator wrote, after the
 * requantization constants p->rq, a table per unit (ops/fully_connected.py
 * tiny_table): its bias, its weights as int16 pairs in that pairing
 * (EKFC_TINY_NP(A) words, read by LDRD), its ekopt_rq2 constants (output
 * offset folded).  Per unit, in one asm loop: the bias, one SMLAD per
 * pair, the requantization, SSAT, the store: 26 instructions for A = 13.
 * Flash: 4 * (5 + EKFC_TINY_NP(A)) bytes per unit (48 for A = 13) beside
 * the int8 weights, which the other cores' paths read.
 * Same sums as the reference loop (exact int32), same requantization. */
#ifndef EK_FC_TINY_H
#define EK_FC_TINY_H

#define EKFC_TINY_MIN 9
#define EKFC_TINY_MAX 15
#define EKFC_TINY_UNITS 32  /* at most this many units (table: <= 52 B each) */
/* Words of widened weights per unit: two per four inputs, one for a last
 * input, two for the last two or three. */
#define EKFC_TINY_NP(A) (2 * ((A) >> 2) + ((A) & 3 ? ((A) & 3) == 1 ? 1 : 2 : 0))

#if EKOPT_DSP
/* a row length listed */
#define EKFC_TINY (EKOPT_USE(EKOPT_FC_TINY9) || EKOPT_USE(EKOPT_FC_TINY10)                  \
                   || EKOPT_USE(EKOPT_FC_TINY11) || EKOPT_USE(EKOPT_FC_TINY12)            \
                   || EKOPT_USE(EKOPT_FC_TINY13) || EKOPT_USE(EKOPT_FC_TINY14)            \
                   || EKOPT_USE(EKOPT_FC_TINY15))
#else
#define EKFC_TINY 0
#endif

#if EKFC_TINY
/* Words of the table per unit: the bias, the widened weights, then the
 * requantization constants clo, chi, mult, rs1. */
#define EKFC_TINY_ROW(A) (1 + EKFC_TINY_NP(A) + 4)

/* Pairs k0, k1 of the widened row against the next two table words. */
#define EKFC_T2(K0, K1)                                                         \
    "ldrd   %[t0], %[t1], [%[tp]], #8\n\t"                                      \
    "smlad  %[s], %[p" #K0 "], %[t0], %[s]\n\t"                                 \
    "smlad  %[s], %[p" #K1 "], %[t1], %[s]\n\t"
/* The unit's bias: alone, or with pair 0 in one LDRD (an odd number of
 * pairs: the words after it then come two by two). */
#define EKFC_B "ldr    %[s], [%[tp]], #4\n\t"
#define EKFC_B0                                                                 \
    "ldrd   %[s], %[t0], [%[tp]], #8\n\t"                                      \
    "smlad  %[s], %[p0], %[t0], %[s]\n\t"

/* The unit loop over the table tp (EKFC_TINY_ROW words per unit) into
 * y .. ye: the bias, the MACs (MACS, against the pairs of the widened row
 * in registers, the other arguments), then ekopt_rq2 (ek_opt_requant.h) and SSAT.
 * YE: ye in a register (EKFC_R, up to seven pairs) or in the frame (EKFC_M). */
#define EKFC_R "r"
#define EKFC_M "m"
#define EKFC_TINY_END_EKFC_R "cmp    %[y], %[ye]\n\t"
#define EKFC_TINY_END_EKFC_M "ldr    %[t0], %[ye]\n\t" "cmp    %[y], %[t0]\n\t"
#define EKFC_TINY_ASM(YE, MACS, ...)                                             \
    __asm__ volatile("1:\n\t"                                                   \
                     MACS                                                       \
                     "ldrd   %[t0], %[t1], [%[tp]], #8\n\t"                     \
                     "and    %[t2], %[s], #0x80000000\n\t"                      \
                     "adds   %[t0], %[t0], %[t2]\n\t"                           \
                     "adc    %[t1], %[t1], %[s], asr #31\n\t"                   \
                     "ldr    %[t2], [%[tp]], #4\n\t"                            \
                     "smlal  %[t0], %[t1], %[s], %[t2]\n\t"                     \
                     "ldr    %[s], [%[tp]], #4\n\t"                             \
                     "asr    %[t1], %[t1], %[s]\n\t"                            \
                     "ssat   %[t1], #8, %[t1]\n\t"                              \
                     "strb   %[t1], [%[y]], #1\n\t"                             \
                     EKFC_TINY_END_##YE                                         \
                     "bne    1b\n\t"                                            \
                     : [s] "=&r"(s), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), \
                       [tp] "+r"(tp), [y] "+r"(y)                               \
                     : [ye] YE(ye), __VA_ARGS__                                  \
                     : "cc", "memory")

/* One batch row x of A inputs (A a constant at each use), units >= 1. */
static inline __attribute__((always_inline)) void
ekopt_fc_tiny_row(const int8_t *x, const int32_t *tab, int8_t *yp, int32_t units, int32_t off,
                  const int32_t A) {
    const int32_t words = A >> 2, tail = A & 3, off2 = ekopt_off2(off);
    /* the row widened: pairs (x0, x2), (x1, x3) per word, then the last
     * inputs (zero bytes above, widened to the offset: their weights are 0) */
    int32_t x0a = 0, x0b = 0, x1a = 0, x1b = 0, x2a = 0, x2b = 0, xl0 = 0, xl1 = 0;
    {
        const int32_t v0 = ekopt_ld4(x), v1 = ekopt_ld4(x + 4);
        x0a = __sxtab16(off2, v0);
        x0b = ekopt_sxtab16_hi(off2, v0);
        x1a = __sxtab16(off2, v1);
        x1b = ekopt_sxtab16_hi(off2, v1);
    }
    if (words > 2) {
        const int32_t v = ekopt_ld4(x + 8);
        x2a = __sxtab16(off2, v);
        x2b = ekopt_sxtab16_hi(off2, v);
    }
    if (tail) {
        const int32_t v = (int32_t)((uint32_t)ekopt_ld4(x + A - 4) >> (32 - 8 * tail));
        xl0 = __sxtab16(off2, v);
        xl1 = ekopt_sxtab16_hi(off2, v);
    }
    const int32_t *tp = tab;
    int8_t *y = yp;
    int8_t *const ye = yp + units;
    int32_t s, t0, t1, t2;
    (void)x2a, (void)x2b, (void)xl1;
    switch (EKFC_TINY_NP(A)) {
    case 5:   /* A = 9 */
        EKFC_TINY_ASM(EKFC_R, EKFC_B0 EKFC_T2(1, 2) EKFC_T2(3, 4),
                      [p0] "r"(x0a), [p1] "r"(x0b), [p2] "r"(x1a), [p3] "r"(x1b),
                      [p4] "r"(xl0));
        break;
    case 6:   /* A = 10, 11: two words and two tail pairs; A = 12: three words */
        if (words > 2) {
            EKFC_TINY_ASM(EKFC_R, EKFC_B EKFC_T2(0, 1) EKFC_T2(2, 3) EKFC_T2(4, 5),
                          [p0] "r"(x0a), [p1] "r"(x0b), [p2] "r"(x1a), [p3] "r"(x1b),
                          [p4] "r"(x2a), [p5] "r"(x2b));
        } else {
            EKFC_TINY_ASM(EKFC_R, EKFC_B EKFC_T2(0, 1) EKFC_T2(2, 3) EKFC_T2(4, 5),
                          [p0] "r"(x0a), [p1] "r"(x0b), [p2] "r"(x1a), [p3] "r"(x1b),
                          [p4] "r"(xl0), [p5] "r"(xl1));
        }
        break;
    case 7:   /* A = 13 */
        EKFC_TINY_ASM(EKFC_R, EKFC_B0 EKFC_T2(1, 2) EKFC_T2(3, 4) EKFC_T2(5, 6),
                      [p0] "r"(x0a), [p1] "r"(x0b), [p2] "r"(x1a), [p3] "r"(x1b),
                      [p4] "r"(x2a), [p5] "r"(x2b), [p6] "r"(xl0));
        break;
    default:  /* 8: A = 14, 15 */
        EKFC_TINY_ASM(EKFC_M, EKFC_B EKFC_T2(0, 1) EKFC_T2(2, 3) EKFC_T2(4, 5) EKFC_T2(6, 7),
                      [p0] "r"(x0a), [p1] "r"(x0b), [p2] "r"(x1a), [p3] "r"(x1b),
                      [p4] "r"(x2a), [p5] "r"(x2b), [p6] "r"(xl0), [p7] "r"(xl1));
        break;
    }
}
#undef EKFC_TINY_ASM
#undef EKFC_T2
#undef EKFC_B
#undef EKFC_B0
#undef EKFC_R
#undef EKFC_M
#undef EKFC_TINY_END_EKFC_R
#undef EKFC_TINY_END_EKFC_M

#define EKFC_TINY_CASE(AA)                                                      \
    case AA:                                                                    \
        for (int32_t b = 0; b < p->batches; ++b) {                              \
            ekopt_fc_tiny_row(in + b * AA, tab, out + b * p->units, p->units,   \
                              p->in_offset, AA);                                \
        }                                                                       \
        return 1;

/* The tiny path of this layer, when ek_paths.h lists its row length, the
 * generator gave the table (no filter offset), the output offset is
 * within int8 and the activation range is all of int8; returns 0 (nothing
 * done) else.  ek_fully_connected_s8 tries it first. */
static inline __attribute__((always_inline)) int ekopt_fc_tiny(const ek_fc_params *p,
                                                               const int8_t *in, int8_t *out) {
    (void)in, (void)out;
    if (!p->rq || p->filter_offset != 0 || p->units > EKFC_TINY_UNITS || p->units < 1
        || p->act_min != -128 || p->act_max != 127 || p->out_offset < -128
        || p->out_offset > 127) {
        return 0;
    }
    /* the table follows the requantization constants */
    const int32_t *const tab = p->rq + 4 * (p->per_channel ? p->units : 1);
    (void)tab;
    switch (p->accum) {
#if EKOPT_USE(EKOPT_FC_TINY9)
    EKFC_TINY_CASE(9)
#endif
#if EKOPT_USE(EKOPT_FC_TINY10)
    EKFC_TINY_CASE(10)
#endif
#if EKOPT_USE(EKOPT_FC_TINY11)
    EKFC_TINY_CASE(11)
#endif
#if EKOPT_USE(EKOPT_FC_TINY12)
    EKFC_TINY_CASE(12)
#endif
#if EKOPT_USE(EKOPT_FC_TINY13)
    EKFC_TINY_CASE(13)
#endif
#if EKOPT_USE(EKOPT_FC_TINY14)
    EKFC_TINY_CASE(14)
#endif
#if EKOPT_USE(EKOPT_FC_TINY15)
    EKFC_TINY_CASE(15)
#endif
    default:
        return 0;
    }
}
#undef EKFC_TINY_CASE
#endif /* EKFC_TINY */

#endif /* EK_FC_TINY_H */
