/* edgekit: the channel-pair loop of the optimized CONV_2D's six-pixel path
 * (DSP cores).
 *
 * A part of kernels/optimized/ek_conv.c: ek_conv_dsp6.h includes it once,
 * after EKOPT_RQ6 and before ekopt_conv_dsp6; no other file includes it.
 *
 * Two output channels x three pixels per inner loop: each chunk of 4
 * window bytes loads the two channels' filter words (rows c and c + 1,
 * K bytes apart: two single LDRs, the second pipelined), widens them with
 * four SXTB16 and feeds each pixel's pair of im2col words (one LDRD) to
 * four SMLADs, so every loaded pixel word serves two channels: 28 cycles
 * per 24 MACs on the Cortex-M4 timing model (emulator/cycles.py), against
 * 31 for ekopt_dsp6_channels (one channel x six pixels, whose three
 * LDMs of four pixel words dominate).  The filter stays in its plain
 * [out_c][K] order (no packing: the second row is addressed by the
 * immediate offset K, so the reference kernels read the same constants),
 * which makes K an assembler constant: one function per K, K a multiple
 * of 32 up to 288 (8 chunks per loop trip, 16 when K is a multiple of 64:
 * one trip for K = 64; no partial trip), each
 * compiled only when a layer takes it (EKOPT_CONV_PAIR<K> in ek_paths.h,
 * ops/conv.py conv_paths). */
#ifndef EK_CONV_PAIR_H
#define EK_CONV_PAIR_H

/* One chunk: a[0..3) += channel c, b[0..3) += channel c + 1, pixels 1, 2, 0
 * of the half (x then moves to the next chunk, 12 words on).  r4, r5 =
 * channel c's halfword pairs (bytes 0, 2 and 1, 3), r6, r8 = channel c + 1's. */
#define EKOPT_MKP_PIXEL(A, B)                                                   \
    "smlad  %[" A "], %[t0], r4, %[" A "]\n\t"                                  \
    "smlad  %[" A "], %[t1], r5, %[" A "]\n\t"                                  \
    "smlad  %[" B "], %[t0], r6, %[" B "]\n\t"                                  \
    "smlad  %[" B "], %[t1], r8, %[" B "]\n\t"
#define EKOPT_MKP_CHUNK(KS)                                                     \
    "ldr    %[t1], [%[w], #" KS "]\n\t"                                         \
    "ldr    %[t0], [%[w]], #4\n\t"                                              \
    "sxtb16 r8, %[t1], ror #8\n\t"                                              \
    "sxtb16 r6, %[t1]\n\t"                                                      \
    "sxtb16 r5, %[t0], ror #8\n\t"                                              \
    "sxtb16 r4, %[t0]\n\t"                                                      \
    "ldrd   %[t0], %[t1], [%[x], #8]\n\t"                                       \
    EKOPT_MKP_PIXEL("a1", "b1")                                                 \
    "ldrd   %[t0], %[t1], [%[x], #16]\n\t"                                      \
    EKOPT_MKP_PIXEL("a2", "b2")                                                 \
    "ldrd   %[t0], %[t1], [%[x]], #48\n\t"                                      \
    EKOPT_MKP_PIXEL("a0", "b0")

/* One channel's requantization constants, as in ekopt_dsp6_channels
 * (r4 = clo, r5 = rs1, r6 = mult, r8 = chi; cp moves to the next channel). */
#define EKOPT_RQP_CONST                                                         \
    "ldr    r4, %[cp]\n\t"                                                      \
    "ldr    r5, %[dsh]\n\t"                                                     \
    "ldr    r8, %[c21]\n\t"                                                     \
    "ldr    r5, [r4, r5]\n\t"                                                   \
    "ldr    r6, [r4], #4\n\t"                                                   \
    "str    r4, %[cp]\n\t"                                                      \
    "mvn    r5, r5\n\t"                                                         \
    "mov    r4, #0x80000000\n\t"                                                \
    "lsl    r4, r4, r5\n\t"                                                     \
    "orr    r4, r4, #0x40000000\n\t"                                            \
    "lsl    r8, r8, r5\n\t"                                                     \
    "asr    r8, r8, #1\n\t"

/* ekopt_dsp3_pairs_<K>: the out_c channels (even) of three pixels, whose
 * im2col words are words 0..5 of each 12-word chunk of buf (the caller
 * passes the six-pixel buffer, or it + 6 words for its last three
 * pixels), end = buf + 12 * K / 4; outputs at y, y + ys, y + 2 ys.  Per
 * pair: the two biases, the chunk loop, the six fused requantizations
 * (ekopt_rq2 as ekopt_dsp6_channels: every right shift within 1..22, a
 * bias, SSAT), six stores; the filter pointer then skips row c + 1.  The
 * loop state lives in this frame: every register is taken. */
#define EKOPT_MKP_8(KS)                                                         \
    EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) \
    EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS) EKOPT_MKP_CHUNK(KS)
/* The end of a loop trip (ENDS of EKOPT_PAIRS_FN when K / 4 chunks take
 * more than one trip; K = 32 and 64 take one, no test). */
#define EKOPT_MKP_LOOP                                                          \
    "ldr    %[t0], %[e]\n\t"                                                   \
    "cmp    %[x], %[t0]\n\t"                                                   \
    "bne    11b\n\t"
#define EKOPT_PAIRS_FN(KK, TRIP, ENDS)                                          \
static __attribute__((noinline)) void                                           \
ekopt_dsp3_pairs_##KK(const int32_t *buf, const int32_t *end, const int8_t *w,  \
                      const int32_t *bias, const int32_t *mult, const int32_t *shift, \
                      int32_t out_c, int8_t *y, int32_t ys, int32_t zp) {       \
    const int32_t *xb = buf, *xe = end, *cp = mult;                             \
    const int32_t c21 = 1 + 2 * zp;                                             \
    const int32_t dsh = (int32_t)((const char *)shift - (const char *)mult);    \
    const int32_t dbi = (int32_t)((const char *)bias - (const char *)mult);     \
    const int32_t yst[2] = {ys, 2 * ys};                                        \
    int8_t *yv = y, *const ye = y + out_c;                                      \
    int32_t s0, s1, s2, s3, s4, s5, t0, t1;                                     \
    const int32_t *x;                                                           \
    __asm__ volatile("1:\n\t"                                                   \
                     "ldr    %[t0], %[cp]\n\t"                                  \
                     "ldr    %[t1], %[dbi]\n\t"                                 \
                     "add    %[t0], %[t0], %[t1]\n\t"                           \
                     "ldr    %[x], %[xb]\n\t"                                   \
                     "ldrd   %[a0], %[b0], [%[t0]]\n\t"                         \
                     "mov    %[a1], %[a0]\n\t"                                  \
                     "mov    %[a2], %[a0]\n\t"                                  \
                     "mov    %[b1], %[b0]\n\t"                                  \
                     "mov    %[b2], %[b0]\n\t"                                  \
                     "11:\n\t"                                                  \
                     TRIP                                                       \
                     ENDS                                                       \
                     "add    %[w], %[w], #" #KK "\n\t"                          \
                     EKOPT_RQP_CONST                                            \
                     EKOPT_RQ6("a0") EKOPT_RQ6("a1") EKOPT_RQ6("a2")            \
                     EKOPT_RQP_CONST                                            \
                     EKOPT_RQ6("b0") EKOPT_RQ6("b1") EKOPT_RQ6("b2")            \
                     /* t0 = y, t1 = ys, x = 2 ys */                            \
                     "ldr    %[t0], %[yv]\n\t"                                  \
                     "ldrd   %[t1], %[x], %[yst]\n\t"                           \
                     "strb   %[a1], [%[t0], %[t1]]\n\t"                         \
                     "strb   %[a2], [%[t0], %[x]]\n\t"                          \
                     "strb   %[a0], [%[t0]], #1\n\t"                            \
                     "strb   %[b1], [%[t0], %[t1]]\n\t"                         \
                     "strb   %[b2], [%[t0], %[x]]\n\t"                          \
                     "strb   %[b0], [%[t0]], #1\n\t"                            \
                     "str    %[t0], %[yv]\n\t"                                  \
                     "ldr    %[t1], %[ye]\n\t"                                  \
                     "cmp    %[t0], %[t1]\n\t"                                  \
                     "bne    1b\n\t"                                            \
                     : [a0] "=&r"(s0), [a1] "=&r"(s1), [a2] "=&r"(s2), [b0] "=&r"(s3), \
                       [b1] "=&r"(s4), [b2] "=&r"(s5), [x] "=&r"(x), [w] "+r"(w), \
                       [t0] "=&r"(t0), [t1] "=&r"(t1), [cp] "+m"(cp), [yv] "+m"(yv) \
                     : [e] "m"(xe), [xb] "m"(xb), [ye] "m"(ye), [dsh] "m"(dsh), \
                       [dbi] "m"(dbi), [c21] "m"(c21), [yst] "m"(yst)           \
                     : "r4", "r5", "r6", "r8", "cc", "memory");                 \
}

typedef void (*ekopt_pairs_fn)(const int32_t *, const int32_t *, const int8_t *, const int32_t *,
                               const int32_t *, const int32_t *, int32_t, int8_t *, int32_t,
                               int32_t);

#if EKOPT_USE(EKOPT_CONV_PAIR32)
EKOPT_PAIRS_FN(32, EKOPT_MKP_8("32"), "")
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR64)
EKOPT_PAIRS_FN(64, EKOPT_MKP_8("64") EKOPT_MKP_8("64"), "")
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR96)
EKOPT_PAIRS_FN(96, EKOPT_MKP_8("96"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR128)
EKOPT_PAIRS_FN(128, EKOPT_MKP_8("128") EKOPT_MKP_8("128"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR160)
EKOPT_PAIRS_FN(160, EKOPT_MKP_8("160"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR192)
EKOPT_PAIRS_FN(192, EKOPT_MKP_8("192") EKOPT_MKP_8("192"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR224)
EKOPT_PAIRS_FN(224, EKOPT_MKP_8("224"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR256)
EKOPT_PAIRS_FN(256, EKOPT_MKP_8("256") EKOPT_MKP_8("256"), EKOPT_MKP_LOOP)
#endif
#if EKOPT_USE(EKOPT_CONV_PAIR288)
EKOPT_PAIRS_FN(288, EKOPT_MKP_8("288"), EKOPT_MKP_LOOP)
#endif

/* The pair loop for a window of K bytes, or 0 (K not a multiple of 32 up
 * to 288, or its function not compiled: ekopt_dsp6_channels then). */
static inline ekopt_pairs_fn ekopt_pairs_for(int32_t K) {
    switch (K) {
#if EKOPT_USE(EKOPT_CONV_PAIR32)
    case 32: return ekopt_dsp3_pairs_32;
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
#undef EKOPT_MKP_LOOP
#undef EKOPT_RQP_CONST
#undef EKOPT_MKP_CHUNK
#undef EKOPT_MKP_PIXEL

#endif /* EK_CONV_PAIR_H */
