/* edgekit: DEPTHWISE_CONV_2D row loops in Cortex-M4 assembly (included by the
 * optimized ek_depthwise_conv.c only, on cores with the DSP extension).
 *
 * Filters of 3 rows of at most 3 taps on the int16 plane, fast
 * requantization: blocks of four outputs along a plane row, the whole loop
 * (accumulate, requantize, store) in one asm statement so that nothing is
 * spilled.  Per block and filter row: taps (W01, W12) and inputs (stride 1:
 * five LDRs in one run, two blocks per loop trip, EKDW_LOOP_S1; stride 2: LDRD taps, 2 LDRD + LDR
 * inputs), 8 SMLAD/SMLAxy for 12 MACs; per output the
 * requantization of dw_requant (7 instructions with the store).
 *
 * Inputs e0.. of a filter row from the block's first output:
 *   stride 1: o_j = e_j w0 + e_{j+1} w1 + e_{j+2} w2
 *             o0 = SMLAD((e0,e1),W01) + SMLABT((e2,e3),W12)
 *             o1 = SMLATB((e0,e1),W01) + SMLAD((e2,e3),W12), o2, o3 alike;
 *   stride 2: o_j = SMLAD((e2j,e2j+1),W01) + SMLABT((e2j+2,..),W12).
 */
#ifndef EK_DEPTHWISE_CONV_ASM_H
#define EK_DEPTHWISE_CONV_ASM_H

#if EKOPT_DSP
/* Constants of one output channel; byte offsets used by the asm below. */
typedef struct {
    int32_t w[6];        /*  0: W01, W12 of filter rows 0, 1, 2 */
    int32_t bias;        /* 24 */
    int32_t hc, mult;    /* 28, 32 */
    int32_t rs, yc;      /* 36, 40: right shift - 1, output step (bytes) */
    int32_t ts, ts2;     /* 44, 48: byte offsets of filter rows 1 and 2 */
    int32_t xs, xend;    /* 52: unused, 56: end of the blocks (in a register in the loop) */
} dw_k3;

#define EKDW_S2ROW0(X, O)                                                       \
    "ldrd %[a], %[b], [%[k], #" #O "]\n\t"                                      \
    "ldrd %[p0], %[p1], [" X "]\n\t"                                            \
    "smlad %[s0], %[p0], %[a], %[s3]\n\t"                                       \
    "smlabt %[s0], %[p1], %[b], %[s0]\n\t"                                      \
    "ldr %[p0], [" X ", #8]\n\t"                                                \
    "smlad %[s1], %[p1], %[a], %[s3]\n\t"                                       \
    "smlabt %[s1], %[p0], %[b], %[s1]\n\t"                                      \
    "ldrd %[p1], %[b], [" X ", #12]\n\t"                                        \
    "smlad %[s2], %[p0], %[a], %[s3]\n\t"                                       \
    "ldr %[p0], [%[k], #" #O " + 4]\n\t"                                        \
    "smlabt %[s2], %[p1], %[p0], %[s2]\n\t"                                     \
    "smlad %[s3], %[p1], %[a], %[s3]\n\t"                                       \
    "smlabt %[s3], %[b], %[p0], %[s3]\n\t"

#define EKDW_S2ROW(X, O)                                                        \
    "ldrd %[a], %[b], [%[k], #" #O "]\n\t"                                      \
    "ldrd %[p0], %[p1], [" X "]\n\t"                                            \
    "smlad %[s0], %[p0], %[a], %[s0]\n\t"                                       \
    "smlabt %[s0], %[p1], %[b], %[s0]\n\t"                                      \
    "ldr %[p0], [" X ", #8]\n\t"                                                \
    "smlad %[s1], %[p1], %[a], %[s1]\n\t"                                       \
    "smlabt %[s1], %[p0], %[b], %[s1]\n\t"                                      \
    "ldrd %[p1], %[b], [" X ", #12]\n\t"                                        \
    "smlad %[s2], %[p0], %[a], %[s2]\n\t"                                       \
    "ldr %[p0], [%[k], #" #O " + 4]\n\t"                                        \
    "smlabt %[s2], %[p1], %[p0], %[s2]\n\t"                                     \
    "smlad %[s3], %[p1], %[a], %[s3]\n\t"                                       \
    "smlabt %[s3], %[b], %[p0], %[s3]\n\t"

/* Requantize S (lo: xr, hi: h) and store it with ST. */
#define EKDW_RQX(S, ST)                                                         \
    "and %[xr], " S ", #0x80000000\n\t"                                         \
    "add %[xr], %[xr], #0x40000000\n\t"                                         \
    "add %[h], %[a], " S ", asr #31\n\t"                                        \
    "smlal %[xr], %[h], " S ", %[b]\n\t"                                        \
    "asr %[h], %[h], %[p0]\n\t"                                                 \
    "ssat %[h], #8, %[h]\n\t"                                                   \
    ST "\n\t"

/* The block's four outputs, requantized and stored one output row (p1
 * bytes) apart; y moves on by four rows. */
#define EKDW_STORE4                                                             \
    EKDW_RQX("%[s0]", "strb %[h], [%[y]]")                                      \
    EKDW_RQX("%[s1]", "strb %[h], [%[y], %[p1]]")                               \
    "add %[y], %[y], %[p1], lsl #1\n\t"                                         \
    EKDW_RQX("%[s2]", "strb %[h], [%[y]]")                                      \
    EKDW_RQX("%[s3]", "strb %[h], [%[y], %[p1]]")                               \
    "add %[y], %[y], %[p1], lsl #1\n\t"

#define EKDW_LOOP(ROW0, ROW, STEP)                                              \
    "1:\n\t"                                                                    \
    "ldr %[s3], [%[k], #24]\n\t"                                                \
    ROW0("%[x]", 0)                                                             \
    "ldr %[xr], [%[k], #44]\n\t"                                                \
    "add %[xr], %[xr], %[x]\n\t"                                                \
    ROW("%[xr]", 8)                                                             \
    "ldr %[xr], [%[k], #48]\n\t"                                                \
    "add %[xr], %[xr], %[x]\n\t"                                                \
    ROW("%[xr]", 16)                                                            \
    "ldrd %[a], %[b], [%[k], #28]\n\t"                                          \
    "ldrd %[p0], %[p1], [%[k], #36]\n\t"                                        \
    EKDW_STORE4                                                                 \
    "add %[x], %[x], #" #STEP "\n\t"                                            \
    "cmp %[x], %[xe]\n\t"                                                       \
    "bne 1b\n\t"

/* Stride 1, one filter row: taps in a, b, inputs e0..e5 in p0, p1, W3
 * (any register: the row's third word), accumulators from I0..I3. */
#define EKDW_S1MAC(W3, I0, I1, I2, I3)                                          \
    "smlad %[s0], %[p0], %[a], %[" I0 "]\n\t"                                    \
    "smlabt %[s0], %[p1], %[b], %[s0]\n\t"                                      \
    "smlatb %[s1], %[p0], %[a], %[" I1 "]\n\t"                                   \
    "smlad %[s1], %[p1], %[b], %[s1]\n\t"                                       \
    "smlad %[s2], %[p1], %[a], %[" I2 "]\n\t"                                    \
    "smlabt %[s2], %[" W3 "], %[b], %[s2]\n\t"                                  \
    "smlatb %[s3], %[p1], %[a], %[" I3 "]\n\t"                                   \
    "smlad %[s3], %[" W3 "], %[b], %[s3]\n\t"
/* Filter row R (1 or 2, at byte offset OFF in k) at stride 1: its taps and
 * its three input words in one run of LDRs (the row pointer xr, made while
 * the taps load, ends as the third word). */
#define EKDW_S1ROWN(OFF, TO)                                                    \
    "ldr %[xr], [%[k], #" #OFF "]\n\t"                                          \
    "ldr %[a], [%[k], #" #TO "]\n\t"                                            \
    "add %[xr], %[xr], %[x]\n\t"                                                \
    "ldr %[b], [%[k], #" #TO " + 4]\n\t"                                        \
    "ldr %[p0], [%[xr]]\n\t"                                                    \
    "ldr %[p1], [%[xr], #4]\n\t"                                                \
    "ldr %[xr], [%[xr], #8]\n\t"                                                \
    EKDW_S1MAC("xr", "s0", "s1", "s2", "s3")

/* One stride-1 block as in EKDW_LOOP, but every load in runs of single
 * LDRs (a load after a load is pipelined on the Cortex-M4, an LDRD never
 * is: 5 words in 6 cycles against 8 for LDR + 2 LDRD), the first row's
 * third input word in h (free until the requantization). */
#define EKDW_BLOCK_S1                                                           \
    "ldr %[s3], [%[k], #24]\n\t"                                                \
    "ldr %[a], [%[k]]\n\t"                                                      \
    "ldr %[b], [%[k], #4]\n\t"                                                  \
    "ldr %[p0], [%[x]]\n\t"                                                     \
    "ldr %[p1], [%[x], #4]\n\t"                                                 \
    "ldr %[h], [%[x], #8]\n\t"                                                  \
    EKDW_S1MAC("h", "s3", "s3", "s3", "s3")                                     \
    EKDW_S1ROWN(44, 8)                                                          \
    EKDW_S1ROWN(48, 16)                                                         \
    "ldr %[a], [%[k], #28]\n\t"                                                 \
    "ldr %[b], [%[k], #32]\n\t"                                                 \
    "ldr %[p0], [%[k], #36]\n\t"                                                \
    "ldr %[p1], [%[k], #40]\n\t"                                                \
    EKDW_STORE4                                                                 \
    "add %[x], %[x], #8\n\t"
/* The stride-1 loop: two blocks per trip (one test and taken branch per
 * two), entered at the second for an odd number of blocks (bit 3 of the
 * byte length xe - x): 89 cycles per block of four outputs on the timing
 * model of emulator/cycles.py, against 99 for EKDW_LOOP's form. */
#define EKDW_LOOP_S1                                                            \
    "sub %[h], %[xe], %[x]\n\t"                                                 \
    "tst %[h], #8\n\t"                                                          \
    "bne 2f\n\t"                                                                \
    "1:\n\t"                                                                    \
    EKDW_BLOCK_S1                                                               \
    "2:\n\t"                                                                    \
    EKDW_BLOCK_S1                                                               \
    "cmp %[x], %[xe]\n\t"                                                       \
    "bne 1b\n\t"

/* Blocks of four outputs from x (4-byte aligned) to k->xend (at least one
 * block); stores from y with step k->yc; returns y after the last block. */
static inline int8_t *dw_row3_s1(dw_k3 *k, const int16_t *x, int8_t *y) {
    int32_t s0, s1, s2, s3, a, b, p0, p1, h;
    const int16_t *xr, *xe = (const int16_t *)(intptr_t)k->xend;
    __asm__ volatile(EKDW_LOOP_S1
                     : [x] "+r"(x), [y] "+r"(y), [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2),
                       [s3] "=&r"(s3), [a] "=&r"(a), [b] "=&r"(b), [p0] "=&r"(p0), [p1] "=&r"(p1),
                       [xr] "=&r"(xr), [h] "=&r"(h)
                     : [k] "r"(k), [xe] "r"(xe)
                     : "memory", "cc");
    return y;
}

static inline int8_t *dw_row3_s2(dw_k3 *k, const int16_t *x, int8_t *y) {
    int32_t s0, s1, s2, s3, a, b, p0, p1, h;
    const int16_t *xr, *xe = (const int16_t *)(intptr_t)k->xend;
    __asm__ volatile(EKDW_LOOP(EKDW_S2ROW0, EKDW_S2ROW, 16)
                     : [x] "+r"(x), [y] "+r"(y), [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2),
                       [s3] "=&r"(s3), [a] "=&r"(a), [b] "=&r"(b), [p0] "=&r"(p0), [p1] "=&r"(p1),
                       [xr] "=&r"(xr), [h] "=&r"(h)
                     : [k] "r"(k), [xe] "r"(xe)
                     : "memory", "cc");
    return y;
}
/* One output (any column stride): per filter row LDRD taps, 2 LDR, SMLAD +
 * SMLABT; then the fast requantization and the store at y. */
#define EKDW_T1ROW(X, O)                                                        \
    "ldrd %[a], %[b], [%[k], #" #O "]\n\t"                                      \
    "ldr %[p0], [" X "]\n\t"                                                    \
    "ldr %[p1], [" X ", #4]\n\t"                                                \
    "smlad %[s0], %[p0], %[a], %[s0]\n\t"                                       \
    "smlabt %[s0], %[p1], %[b], %[s0]\n\t"

static inline void dw_one3(const dw_k3 *k, const int16_t *x, int8_t *y) {
    int32_t s0, a, b, p0, p1;
    const int16_t *xr;
    __asm__ volatile("ldr %[s0], [%[k], #24]\n\t"
                     EKDW_T1ROW("%[x]", 0)
                     "ldr %[xr], [%[k], #44]\n\t"
                     "add %[xr], %[xr], %[x]\n\t"
                     EKDW_T1ROW("%[xr]", 8)
                     "ldr %[xr], [%[k], #48]\n\t"
                     "add %[xr], %[xr], %[x]\n\t"
                     EKDW_T1ROW("%[xr]", 16)
                     "ldrd %[a], %[b], [%[k], #28]\n\t"
                     "ldr %[p0], [%[k], #36]\n\t"
                     "and %[xr], %[s0], #0x80000000\n\t"
                     "add %[xr], %[xr], #0x40000000\n\t"
                     "add %[p1], %[a], %[s0], asr #31\n\t"
                     "smlal %[xr], %[p1], %[s0], %[b]\n\t"
                     "asr %[p1], %[p1], %[p0]\n\t"
                     "ssat %[p1], #8, %[p1]\n\t"
                     "strb %[p1], [%[y]]\n\t"
                     : [s0] "=&r"(s0), [a] "=&r"(a), [b] "=&r"(b), [p0] "=&r"(p0), [p1] "=&r"(p1),
                       [xr] "=&r"(xr)
                     : [k] "r"(k), [x] "r"(x), [y] "r"(y)
                     : "memory");
}
#endif

#endif /* EK_DEPTHWISE_CONV_ASM_H */
