/* edgekit: the channel-pair loop of the optimized CONV_2D's six-pixel path
 * (DSP cores).
 *
 * A part of kernels/optimized/ek_conv.c: ek_conv_dsp6.h includes it once,
 * after EKOPT_RQ6 and before ekopt_conv_dsp6; no other file includes it.
 *
 * Two output channels x three pixels per inner loop: each chunk of 4
 * window bytes loads the two channels' filter words (rows c and c + 1,
 * K bytes apart), widens them with four SXTB16 and feeds each pixel's
 * pair of im2col words to four SMLADs, so every loaded pixel word serves
 * two channels: 27 cycles per 24 MACs on the Cortex-M4 timing model
 * (emulator/cycles.py; see EKOPT_MKP_BODY; 28 in the multi-trip windows,
 * EKOPT_MKP_CHUNKD), against
 * 31 for ekopt_dsp6_channels (one channel x six pixels, whose three
 * LDMs of four pixel words dominate).  The filter stays in its plain
 * [out_c][K] order (no packing: the second row is addressed by the
 * immediate offset K, so the reference kernels read the same constants),
 * which makes K an assembler constant: one function per K, K a multiple
 * of 32 up to 288 (8 chunks per loop trip, 16 when K is a multiple of 64:
 * one trip for K = 64; no partial trip) or K = 40 (KWS's 10x4 stem on one
 * channel: 10 chunks, one trip), each
 * compiled only when a layer takes it (EKOPT_CONV_PAIR<K> in ek_paths.h,
 * ops/conv.py conv_paths). */
#ifndef EK_CONV_PAIR_H
#define EK_CONV_PAIR_H

/* One chunk: a[0..3) += channel c, b[0..3) += channel c + 1, pixels 1, 2, 0
 * of the half (x then moves to the next chunk, 12 words on).  r4, r5 =
 * channel c's halfword pairs (bytes 0, 2 and 1, 3), r6, r8 = channel c + 1's.
 * The two filter words and pixel 1's two words come in one run of four
 * LDRs (5 cycles: a load after a load is pipelined; an LDRD never is),
 * the filter words into r6 and r4, widened there by the SXTB16s; pixels 2
 * and 0 by one LDRD each (3 cycles, as two LDRs after an SMLAD).  Pixel
 * A's accumulators start from IA, IB (the first chunk: the biases). */
#define EKOPT_MKP_PIXEL(A, B, IA, IB)                                           \
    "smlad  %[" A "], %[t0], r4, %[" IA "]\n\t"                                 \
    "smlad  %[" A "], %[t1], r5, %[" A "]\n\t"                                  \
    "smlad  %[" B "], %[t0], r6, %[" IB "]\n\t"                                 \
    "smlad  %[" B "], %[t1], r8, %[" B "]\n\t"
#define EKOPT_MKP_LOADW(KS)                                                     \
    "ldr    r6, [%[w], #" KS "]\n\t"                                            \
    "ldr    r4, [%[w]], #4\n\t"
#define EKOPT_MKP_BODY(IA1, IB1, IA2, IB2)                                                \
    "ldr    %[t0], [%[x], #8]\n\t"                                              \
    "ldr    %[t1], [%[x], #12]\n\t"                                             \
    "sxtb16 r8, r6, ror #8\n\t"                                                 \
    "sxtb16 r6, r6\n\t"                                                         \
    "sxtb16 r5, r4, ror #8\n\t"                                                 \
    "sxtb16 r4, r4\n\t"                                                         \
    EKOPT_MKP_PIXEL("a1", "b1", IA1, IB1)                                       \
    "ldrd   %[t0], %[t1], [%[x], #16]\n\t"                                      \
    EKOPT_MKP_PIXEL("a2", "b2", IA2, IB2)                                       \
    "ldrd   %[t0], %[t1], [%[x]], #48\n\t"                                      \
    EKOPT_MKP_PIXEL("a0", "b0", "a0", "b0")
#define EKOPT_MKP_CHUNK(KS) EKOPT_MKP_LOADW(KS) EKOPT_MKP_BODY("a1", "b1", "a2", "b2")
/* The chunk of the multi-trip windows and of K = 40: pixel 1 by an LDRD
 * too (one instruction fewer, one cycle more: 28 cycles per 24 MACs; kept
 * there so that their models' instruction counts do not grow: ResNet-8's
 * K = 288, the streaming wake-word model's 1x1 convolution on 40 channels,
 * which the pair loop takes over from ekopt_dsp6_channels at 21 instead
 * of 18 instructions per chunk). */
#define EKOPT_MKP_CHUNKD(KS)                                                    \
    "ldr    %[t1], [%[w], #" KS "]\n\t"                                         \
    "ldr    %[t0], [%[w]], #4\n\t"                                              \
    "sxtb16 r8, %[t1], ror #8\n\t"                                              \
    "sxtb16 r6, %[t1]\n\t"                                                      \
    "sxtb16 r5, %[t0], ror #8\n\t"                                              \
    "sxtb16 r4, %[t0]\n\t"                                                      \
    "ldrd   %[t0], %[t1], [%[x], #8]\n\t"                                       \
    EKOPT_MKP_PIXEL("a1", "b1", "a1", "b1")                                     \
    "ldrd   %[t0], %[t1], [%[x], #16]\n\t"                                      \
    EKOPT_MKP_PIXEL("a2", "b2", "a2", "b2")                                     \
    "ldrd   %[t0], %[t1], [%[x]], #48\n\t"                                      \
    EKOPT_MKP_PIXEL("a0", "b0", "a0", "b0")
/* A pair's start and its first chunk: the biases (bp runs over bias two by
 * two) and x = xb in the same load run as the chunk's filter words; pixels
 * 1 and 2 then start from the biases in a0, b0 (pixel 0, last, adds to
 * them). */
#define EKOPT_MKP_FIRST(KS)                                                     \
    "ldr    %[t0], %[bp]\n\t"                                                   \
    "ldr    %[x], %[xb]\n\t"                                                    \
    EKOPT_MKP_LOADW(KS)                                                         \
    "ldr    %[b0], [%[t0], #4]\n\t"                                             \
    "ldr    %[a0], [%[t0]], #8\n\t"                                             \
    "str    %[t0], %[bp]\n\t"                                                   \
    EKOPT_MKP_BODY("a0", "b0", "a0", "b0")
/* Multi-trip windows: the biases copied to all six accumulators first. */
#define EKOPT_MKP_BIAS                                                          \
    "ldr    %[t0], %[bp]\n\t"                                                   \
    "ldr    %[x], %[xb]\n\t"                                                    \
    "ldr    %[b0], [%[t0], #4]\n\t"                                             \
    "ldr    %[a0], [%[t0]], #8\n\t"                                             \
    "str    %[t0], %[bp]\n\t"                                                   \
    "mov    %[a1], %[a0]\n\t"                                                   \
    "mov    %[a2], %[a0]\n\t"                                                   \
    "mov    %[b1], %[b0]\n\t"                                                   \
    "mov    %[b2], %[b0]\n\t"

/* One channel's requantization constants, as in ekopt_dsp6_channels
 * (r5 = rs1, r6 = mult, r8 = chi; r4 = cp moved to the next channel, kept
 * there for channel c + 1, which stores it back), but for
 * right shifts of at least 2 only (the caller's condition): rs1 >= 1, so
 * clo = 2^30 | 2^31 << rs1 is 2^30, an immediate in EKOPT_RQP, and the
 * low word's sum cannot carry.  LOADS: the loads of the constants, STEPS:
 * the derivation. */
#define EKOPT_RQP_LOADS                                                         \
    "ldr    r4, %[cp]\n\t"                                                      \
    "ldr    r5, %[dsh]\n\t"                                                     \
    "ldr    r8, %[c21]\n\t"                                                     \
    "ldr    r5, [r4, r5]\n\t"                                                   \
    "ldr    r6, [r4], #4\n\t"
#define EKOPT_RQP_STEPS                                                         \
    "mvn    r5, r5\n\t"                                                         \
    "lsl    r8, r8, r5\n\t"                                                     \
    "asr    r8, r8, #1\n\t"
/* EKOPT_RQ6 with the scratch registers T, LO, HI named, clo = 2^30. */
#define EKOPT_RQP(A, T, LO, HI)                                                 \
    "and    %[" T "], %[" A "], #0x80000000\n\t"                                \
    "orr    %[" LO "], %[" T "], #0x40000000\n\t"                               \
    "add    %[" HI "], r8, %[" A "], asr #31\n\t"                               \
    "smlal  %[" LO "], %[" HI "], %[" A "], r6\n\t"                             \
    "asr    %[" HI "], %[" HI "], r5\n\t"                                       \
    "ssat   %[" A "], #8, %[" HI "]\n\t"

/* ekopt_dsp3_pairs_<K>: the out_c channels (even) of three pixels, whose
 * im2col words are words 0..5 of each 12-word chunk of buf (the caller
 * passes the six-pixel buffer, or it + 6 words for its last three
 * pixels), end = buf + 12 * K / 4; outputs at y, y + ys, y + 2 ys.  Per
 * pair: the two biases, the chunk loop, the six fused requantizations
 * (ekopt_rq2 as ekopt_dsp6_channels, but every right shift within 2..22,
 * a bias, SSAT), six stores; the filter pointer then skips row c + 1.  The
 * loop state lives in this frame: every register is taken.  Channel c's
 * three stores go between the loads of channel c + 1's constants (a
 * register-offset STRB after a load is pipelined: 1 cycle, else 2), whose
 * requantization then takes a0..a2 as scratch (x holds y, t1 ys).
 * FIRST runs before the loop label, TRIP and ENDS in the loop. */
#define EKOPT_MKP_8(KS)                                                         \
    EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) \
    EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS)
#define EKOPT_MKP_8D(KS)                                                        \
    EKOPT_MKP_CHUNKD(KS) EKOPT_MKP_CHUNKD(KS) EKOPT_MKP_CHUNKD(KS) EKOPT_MKP_CHUNKD(KS) \
    EKOPT_MKP_CHUNKD(KS) EKOPT_MKP_CHUNKD(KS) EKOPT_MKP_CHUNKD(KS) EKOPT_MKP_CHUNKD(KS)
#define EKOPT_MKP_7(KS)                                                         \
    EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) \
    EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS)
/* The end of a loop trip (ENDS of EKOPT_PAIRS_FN when K / 4 chunks take
 * more than one trip; K = 32 and 64 take one, no test). */
#define EKOPT_MKP_LOOP                                                          \
    "ldr    %[t0], %[e]\n\t"                                                   \
    "cmp    %[x], %[t0]\n\t"                                                   \
    "bne    11b\n\t"
#define EKOPT_PAIRS_FN(KK, FIRST, TRIP, ENDS)                                   \
static __attribute__((noinline)) void                                           \
ekopt_dsp3_pairs_##KK(const int32_t *buf, const int32_t *end, const int8_t *w,  \
                      const int32_t *bias, const int32_t *mult, const int32_t *shift, \
                      int32_t out_c, int8_t *y, int32_t ys, int32_t zp) {       \
    const int32_t *xb = buf, *xe = end, *cp = mult, *bp = bias;                 \
    const int32_t c21 = 1 + 2 * zp;                                             \
    const int32_t dsh = (int32_t)((const char *)shift - (const char *)mult);    \
    const int32_t yst = ys;                                                     \
    int8_t *yv = y, *const ye = y + out_c;                                      \
    int32_t s0, s1, s2, s3, s4, s5, t0, t1;                                     \
    const int32_t *x;                                                           \
    __asm__ volatile("1:\n\t"                                                   \
                     FIRST                                                      \
                     "11:\n\t"                                                  \
                     TRIP                                                       \
                     ENDS                                                       \
                     "add    %[w], %[w], #" #KK "\n\t"                          \
                     EKOPT_RQP_LOADS EKOPT_RQP_STEPS                            \
                     EKOPT_RQP("a0", "x", "t0", "t1")                           \
                     EKOPT_RQP("a1", "x", "t0", "t1")                           \
                     EKOPT_RQP("a2", "x", "t0", "t1")                           \
                     "ldr    %[x], %[yv]\n\t"                                   \
                     "ldr    %[t1], %[ys]\n\t"                                  \
                     "ldr    r5, %[dsh]\n\t"                                    \
                     "strb   %[a1], [%[x], %[t1]]\n\t"                          \
                     "ldr    r8, %[c21]\n\t"                                    \
                     "ldr    r5, [r4, r5]\n\t"                                  \
                     "ldr    r6, [r4], #4\n\t"                                  \
                     "strb   %[a2], [%[x], %[t1], lsl #1]\n\t"                  \
                     "strb   %[a0], [%[x]], #1\n\t"                             \
                     "str    r4, %[cp]\n\t"                                     \
                     EKOPT_RQP_STEPS                                            \
                     EKOPT_RQP("b0", "a0", "a1", "a2")                          \
                     EKOPT_RQP("b1", "a0", "a1", "a2")                          \
                     EKOPT_RQP("b2", "a0", "a1", "a2")                          \
                     "ldr    %[t0], %[ye]\n\t"                                  \
                     "strb   %[b1], [%[x], %[t1]]\n\t"                          \
                     "strb   %[b2], [%[x], %[t1], lsl #1]\n\t"                  \
                     "strb   %[b0], [%[x]], #1\n\t"                             \
                     "str    %[x], %[yv]\n\t"                                   \
                     "cmp    %[x], %[t0]\n\t"                                   \
                     "bne    1b\n\t"                                            \
                     : [a0] "=&r"(s0), [a1] "=&r"(s1), [a2] "=&r"(s2), [b0] "=&r"(s3), \
                       [b1] "=&r"(s4), [b2] "=&r"(s5), [x] "=&r"(x), [w] "+r"(w), \
                       [t0] "=&r"(t0), [t1] "=&r"(t1), [cp] "+m"(cp), [yv] "+m"(yv), \
                       [bp] "+m"(bp)                                            \
                     : [e] "m"(xe), [xb] "m"(xb), [ye] "m"(ye), [dsh] "m"(dsh), \
                       [c21] "m"(c21), [ys] "m"(yst)                            \
                     : "r4", "r5", "r6", "r8", "cc", "memory");                 \
}

typedef void (*ekopt_pairs_fn)(const int32_t *, const int32_t *, const int8_t *, const int32_t *,
                               const int32_t *, const int32_t *, int32_t, int8_t *, int32_t,
                               int32_t);

#if EKOPT_USE(EKOPT_CONV_PAIR40)
EKOPT_PAIRS_FN(40, EKOPT_MKP_FIRST("40") EKOPT_MKP_8D("40") EKOPT_MKP_CHUNKD("40"), "", "")
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR32)
EKOPT_PAIRS_FN(32, EKOPT_MKP_FIRST("32") EKOPT_MKP_7("32"), "", "")
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR64)
EKOPT_PAIRS_FN(64, EKOPT_MKP_FIRST("64") EKOPT_MKP_7("64") EKOPT_MKP_8("64"), "", "")
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR96)
EKOPT_PAIRS_FN(96, EKOPT_MKP_BIAS, EKOPT_MKP_8D("96"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR128)
EKOPT_PAIRS_FN(128, EKOPT_MKP_BIAS, EKOPT_MKP_8D("128") EKOPT_MKP_8D("128"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR160)
EKOPT_PAIRS_FN(160, EKOPT_MKP_BIAS, EKOPT_MKP_8D("160"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR192)
EKOPT_PAIRS_FN(192, EKOPT_MKP_BIAS, EKOPT_MKP_8D("192") EKOPT_MKP_8D("192"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR224)
EKOPT_PAIRS_FN(224, EKOPT_MKP_BIAS, EKOPT_MKP_8D("224"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR256)
EKOPT_PAIRS_FN(256, EKOPT_MKP_BIAS, EKOPT_MKP_8D("256") EKOPT_MKP_8D("256"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR288)
EKOPT_PAIRS_FN(288, EKOPT_MKP_BIAS, EKOPT_MKP_8D("288"), EKOPT_MKP_LOOP)
#endif

/* The pair loop for a window of K bytes, or 0 (K not 40 or a multiple of
 * 32 up to 288, or its function not compiled: ekopt_dsp6_channels then). */
static inline ekopt_pairs_fn ekopt_pairs_for(int32_t K) {
    switch (K) {
#if EKOPT_USE(EKOPT_CONV_PAIR32)
    case 32: return ekopt_dsp3_pairs_32;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR40)
    case 40: return ekopt_dsp3_pairs_40;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR64)
    case 64: return ekopt_dsp3_pairs_64;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR96)
    case 96: return ekopt_dsp3_pairs_96;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR128)
    case 128: return ekopt_dsp3_pairs_128;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR160)
    case 160: return ekopt_dsp3_pairs_160;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR192)
    case 192: return ekopt_dsp3_pairs_192;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR224)
    case 224: return ekopt_dsp3_pairs_224;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR256)
    case 256: return ekopt_dsp3_pairs_256;
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR288)
    case 288: return ekopt_dsp3_pairs_288;
#endif
    default: return 0;
    }
}

#undef EKOPT_PAIRS_FN
#undef EKOPT_MKP_8
#undef EKOPT_MKP_8D
#undef EKOPT_MKP_CHUNKD
#undef EKOPT_MKP_7
#undef EKOPT_MKP_FIRST
#undef EKOPT_MKP_BIAS
#undef EKOPT_MKP_BODY
#undef EKOPT_MKP_LOADW
#undef EKOPT_RQP
#undef EKOPT_RQP_LOADS
#undef EKOPT_RQP_STEPS
#undef EKOPT_MKP_LOOP
#undef EKOPT_MKP_CHUNK
#undef EKOPT_MKP_PIXEL

#endif /* EK_CONV_PAIR_H */
