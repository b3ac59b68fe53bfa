/*
 * edgekit audio front end: FFT and bin energies (see frontend_internal.h).
 * C99, no state: works on the buffers it is given.
 *
 * Arithmetic conventions, chosen so that with the micro_speech parameters
 * the output is bit-exact with TFLM's signal-library audio preprocessor:
 * - the FFT is decimation in time, radix 4 (and one radix 2 stage when
 *   FFT_SIZE / 2 is not a power of 4), on Q15 complex int16 values; every
 *   butterfly first divides its inputs by its radix (multiply by
 *   32767 / radix, round half up, >> 15), twiddle products round half up;
 * - the real FFT runs as a complex FFT of FFT_SIZE / 2 points on the
 *   interleaved samples, then splits the even/odd spectra (inputs halved
 *   the same way, outputs halved by an arithmetic shift: floor);
 * - every narrowing to int16 keeps the low 16 bits (two's complement) and
 *   every uint32 left shift keeps the low 32 bits, as the reference does.
 */
#define EK_FE_TABLES_FFT 1
#include "frontend_internal.h"
#include "frontend_dsp.h"

/* The pair (lo >> 15, hi >> 15), 16 bits each: two Q15 products packed. */
static ek_pair pack_q15(int32_t lo, int32_t hi)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    ek_pair r; /* PKHBT: the low half of lo >> 15, the high half of hi << 1 */
    __asm__("pkhbt %0, %1, %2, lsl #1" : "=r"(r) : "r"(lo >> 15), "r"(hi));
    return r;
#else
    return ((uint32_t)(lo >> 15) & 0xFFFFu) | (((uint32_t)hi << 1) & 0xFFFF0000u);
#endif
}

/* Each half times q15 (a Q15 fraction), rounded half up: the FFT's
 * division of its inputs by the radix (q15 = 32767 / radix). */
static ek_pair q15_scale(ek_pair x, int32_t q15)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    return pack_q15(__smlabb((int32_t)x, q15, 16384), __smlatb((int32_t)x, q15, 16384));
#else
    return pack_q15(lo16(x) * q15 + 16384, hi16(x) * q15 + 16384);
#endif
}

/* a * w (w: Q15 twiddle pair), each part rounded half up. */
static ek_pair cmul(ek_pair a, ek_pair w)
{
    return pack_q15(EK_MSD(a, w, 16384), EK_MADX(a, w, 16384));
}

/* The twiddles as pairs (one aligned 32-bit load each). */
static ek_pair twiddle(uint32_t k)
{
    return load32(ek_fe_twiddles[k]);
}

/*
 * Radix-4 butterflies on f[0], f[m], f[2m], f[3m] of every group of 4m
 * slots, for one k (twiddles w1, w2, w3); k = 0 passes none (its twiddle,
 * 32767 + 0i, leaves any |part| <= 16384 unchanged, and the inputs of a
 * butterfly are at most 8192 after the division by 4).
 */
#define EK_BUTTERFLY4(f, m, s0, s1, s2)                              \
    do {                                                             \
        ek_pair s3_, s4_, s5_;                                       \
        s5_ = EK_SUB16(a0, s1);                                      \
        a0 = EK_ADD16(a0, s1);                                       \
        s3_ = EK_ADD16(s0, s2);                                      \
        s4_ = EK_SUB16(s0, s2);                                      \
        (f)[2 * (m)] = EK_SUB16(a0, s3_);                            \
        (f)[0] = EK_ADD16(a0, s3_);                                  \
        (f)[(m)] = EK_SAX16(s5_, s4_);                               \
        (f)[3 * (m)] = EK_ASX16(s5_, s4_);                           \
    } while (0)

/* One radix-4 stage: groups of 4m slots, twiddle step fstride (constants
 * once inlined, so that the offsets become immediates). */
static EK_INLINE void radix4_stage(ek_pair *buf, const uint32_t m, const uint32_t fstride)
{
    const uint32_t groups = HALF / (4 * m);
    uint32_t k, g;
    ek_pair *f = buf;
    for (g = 0; g < groups; ++g, f += 4 * m) {
        ek_pair a0 = q15_scale(f[0], 32767 / 4);
        const ek_pair a1 = q15_scale(f[m], 32767 / 4);
        const ek_pair a2 = q15_scale(f[2 * m], 32767 / 4);
        const ek_pair a3 = q15_scale(f[3 * m], 32767 / 4);
        EK_BUTTERFLY4(f, m, a1, a2, a3);
    }
    for (k = 1; k < m; ++k) {
        const ek_pair w1 = twiddle(k * fstride);
        const ek_pair w2 = twiddle(2 * k * fstride);
        const ek_pair w3 = twiddle(3 * k * fstride);
        for (g = 0, f = buf + k; g < groups; ++g, f += 4 * m) {
            ek_pair a0 = q15_scale(f[0], 32767 / 4);
            const ek_pair s0 = cmul(q15_scale(f[m], 32767 / 4), w1);
            const ek_pair s1 = cmul(q15_scale(f[2 * m], 32767 / 4), w2);
            const ek_pair s2 = cmul(q15_scale(f[3 * m], 32767 / 4), w3);
            EK_BUTTERFLY4(f, m, s0, s1, s2);
        }
    }
}

/* One radix-2 stage (k = 0: no twiddle, as in radix4_stage). */
static EK_INLINE void radix2_stage(ek_pair *buf, const uint32_t m, const uint32_t fstride)
{
    const uint32_t groups = HALF / (2 * m);
    uint32_t k, g;
    for (k = 0; k < m; ++k) {
        const ek_pair w = twiddle(k * fstride);
        ek_pair *f = buf + k;
        for (g = 0; g < groups; ++g, f += 2 * m) {
            const ek_pair a0 = q15_scale(f[0], 32767 / 2);
            ek_pair t = q15_scale(f[m], 32767 / 2);
            if (k != 0) {
                t = cmul(t, w);
            }
            f[m] = EK_SUB16(a0, t);
            f[0] = EK_ADD16(a0, t);
        }
    }
}

/* q15_scale of x with each half first shifted left by `shift` (its low 16
 * bits kept): the auto-scale, applied as the first stage reads its inputs. */
static EK_INLINE ek_pair q15_scale_shl(ek_pair x, uint32_t shift, int32_t q15)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    /* SMLABB reads the low 16 bits of x << shift; SMLATB the high ones */
    return pack_q15(__smlabb((int32_t)(x << shift), q15, 16384),
                    __smlatb((int32_t)((x & 0xFFFF0000u) << shift), q15, 16384));
#else
    return q15_scale(((x << shift) & 0xFFFFu) | ((x & 0xFFFF0000u) << shift), q15);
#endif
}

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
/* (a * b + 2^31) >> 32, signed (SMMULR). */
static EK_INLINE int32_t ek_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* q15_scale_shl when no half wraps (|x << shift| < 2^15), with
 * m = q15 << (shift + 1): each half, moved to the top 16 bits, times m is
 * (x << shift) * q15 * 2^17, and SMMULR's rounding adds 2^14 * 2^17 before
 * it drops 2^15 * 2^17: the rounded Q15 product in one instruction. */
static EK_INLINE ek_pair q15_scale_shl_exact(ek_pair x, int32_t m)
{
    ek_pair r; /* PKHBT: the low half of lo, the low half of hi << 16 */
    __asm__("pkhbt %0, %1, %2, lsl #16"
            : "=r"(r)
            : "r"(ek_smmulr((int32_t)(x << 16), m)), "r"(ek_smmulr((int32_t)(x & 0xFFFF0000u), m)));
    return r;
}
#define EK_FIRST_SCALE(x, shift, m, q15) q15_scale_shl_exact((x), (m))

/* q15_scale_shl (wrapping halves) the same way: each half moved to the top
 * 16 bits and shifted there keeps the low 16 bits of x << shift, times
 * q15 << 1. */
static EK_INLINE ek_pair q15_scale_shl_top(ek_pair x, uint32_t shift, int32_t q15)
{
    ek_pair r;
    __asm__("pkhbt %0, %1, %2, lsl #16"
            : "=r"(r)
            : "r"(ek_smmulr((int32_t)(x << (16u + shift)), q15 * 2)),
              "r"(ek_smmulr((int32_t)((x & 0xFFFF0000u) << shift), q15 * 2)));
    return r;
}
#define EK_WRAP_SCALE(x, shift, m, q15) q15_scale_shl_top((x), (shift), (q15))
#else
#define EK_WRAP_SCALE(x, shift, m, q15) q15_scale_shl((x), (shift), (q15))
#define EK_FIRST_SCALE(x, shift, m, q15) q15_scale_shl((x), (shift), (q15))
#endif

/* The first stage (m = 1: no twiddles) on the auto-scaled inputs; SCALE
 * (q15_scale_shl, or an exact form of it) reads them. */
#define EK_FIRST_STAGE(SCALE)                                                   \
    do {                                                                        \
        uint32_t g_;                                                            \
        if (EK_FE_FIRST_RADIX == 4) {                                           \
            const int32_t m_ = (int32_t)((uint32_t)(32767 / 4) << (shift + 1)); \
            (void)m_;                                                           \
            for (g_ = 0; g_ < HALF / 4; ++g_, f += 4) {                         \
                ek_pair a0 = SCALE(f[0], shift, m_, 32767 / 4);                 \
                const ek_pair a1 = SCALE(f[1], shift, m_, 32767 / 4);           \
                const ek_pair a2 = SCALE(f[2], shift, m_, 32767 / 4);           \
                const ek_pair a3 = SCALE(f[3], shift, m_, 32767 / 4);           \
                EK_BUTTERFLY4(f, 1, a1, a2, a3);                                \
            }                                                                   \
        } else {                                                                \
            const int32_t m_ = (int32_t)((uint32_t)(32767 / 2) << (shift + 1)); \
            (void)m_;                                                           \
            for (g_ = 0; g_ < HALF / 2; ++g_, f += 2) {                         \
                const ek_pair a0 = SCALE(f[0], shift, m_, 32767 / 2);           \
                const ek_pair a1 = SCALE(f[1], shift, m_, 32767 / 2);           \
                f[1] = EK_SUB16(a0, a1);                                        \
                f[0] = EK_ADD16(a0, a1);                                        \
            }                                                                   \
        }                                                                       \
    } while (0)

#define EK_PLAIN_SCALE(x, shift, m, q15) q15_scale((x), (q15))

static void first_stage(ek_pair *f, uint32_t scale)
{
    const uint32_t shift = scale & EK_FE_SHIFT_MASK;
    if (shift == 0u) {
        EK_FIRST_STAGE(EK_PLAIN_SCALE);
    } else if ((scale & EK_FE_SHIFT_MAY_WRAP) == 0u) {
        EK_FIRST_STAGE(EK_FIRST_SCALE);
    } else {
        EK_FIRST_STAGE(EK_WRAP_SCALE);
    }
}


void ek_fe_complex_fft(ek_pair *fft, uint32_t scale)
{
    first_stage(fft, scale);
#define EK_FE_RADIX4(m, fstride) radix4_stage(fft, (m), (fstride));
#define EK_FE_RADIX2(m, fstride) radix2_stage(fft, (m), (fstride));
    EK_FE_FFT_LATER_STAGES
#undef EK_FE_RADIX4
#undef EK_FE_RADIX2
}

/* q15_scale of the complex conjugate of y (the imaginary half negated,
 * keeping 16 bits). */
static EK_INLINE ek_pair q15_scale_conj(ek_pair y, int32_t q15)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    return pack_q15(__smlabb((int32_t)y, q15, 16384),
                    __smlatb(__ssub16(0, (int32_t)y), q15, 16384));
#else
    return q15_scale(EK_CONJ(y), q15);
#endif
}

/* The first k of the split: below it neither bin k nor bin HALF - k is in
 * [ENERGY_START, ENERGY_END) (both are zeroed). */
#define FIRST_K                                                                         \
    (EK_FE_ENERGY_START < HALF - EK_FE_ENERGY_END + 1u                                   \
         ? (EK_FE_ENERGY_START > 1u ? EK_FE_ENERGY_START : 1u)                            \
         : HALF - EK_FE_ENERGY_END + 1u)

/* Split the complex FFT into the real FFT's bins and replace each slot by
 * the energy of its bin, zero outside [ENERGY_START, ENERGY_END). */
void ek_fe_real_spectrum_energy(ek_pair *fft)
{
    uint32_t k;
    ek_pair *f = fft;
    for (k = FIRST_K; k <= HALF / 2; ++k) {
        const ek_pair fpk = q15_scale(f[k], 32767 / 2);
        const ek_pair fpnk = q15_scale_conj(f[HALF - k], 32767 / 2);
        const ek_pair f1k = EK_ADD16(fpk, fpnk);
        const ek_pair tw = cmul(EK_SUB16(fpk, fpnk), load32(ek_fe_super_twiddles[k]));
        /* bin k: (f1k + tw) / 2; bin HALF - k: conj(f1k - tw) / 2 (floor) */
        const ek_pair xk = EK_HADD16(f1k, tw);
        const ek_pair yk = EK_HALVES(EK_HSUB16(f1k, tw), EK_HSUB16(tw, f1k));
        f[k] = EK_SQUARES(xk);
        f[HALF - k] = EK_SQUARES(yk);
    }
    for (k = 0; k < EK_FE_ENERGY_START && k < HALF; ++k) {
        f[k] = 0u;
    }
    for (k = EK_FE_ENERGY_END; k < HALF; ++k) {
        f[k] = 0u;
    }
    f[0] = 0u; /* DC: never inside the band */
}
