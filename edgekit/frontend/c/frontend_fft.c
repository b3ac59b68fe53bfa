/*
 * edgekit audio front end: window, auto-scale, FFT, bin energies (see
 * frontend_internal.h).  C99, no state: works on the buffers it is given.
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

#include <string.h>

static uint32_t load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static int32_t lo16(ek_pair x)
{
    return (int16_t)(x & 0xFFFFu);
}

static int32_t hi16(ek_pair x)
{
    return (int16_t)(x >> 16);
}

/* The low 16 bits of lo and of hi as a pair (narrowing keeps the low bits). */
static ek_pair pack(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

/*
 * Dual 16-bit operations.  With the DSP extension they are its instructions
 * (ACLE intrinsics); the portable C computes the same bits.
 */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#include <arm_acle.h>

#define EK_ADD16(a, b) ((ek_pair)__sadd16((int32_t)(a), (int32_t)(b)))
#define EK_SUB16(a, b) ((ek_pair)__ssub16((int32_t)(a), (int32_t)(b)))
/* (a.r + b.i, a.i - b.r) and (a.r - b.i, a.i + b.r) */
#define EK_SAX16(a, b) ((ek_pair)__ssax((int32_t)(a), (int32_t)(b)))
#define EK_ASX16(a, b) ((ek_pair)__sasx((int32_t)(a), (int32_t)(b)))
/* (a + b) >> 1 and (a - b) >> 1 per half, without overflow */
#define EK_HADD16(a, b) ((ek_pair)__shadd16((int32_t)(a), (int32_t)(b)))
#define EK_HSUB16(a, b) ((ek_pair)__shsub16((int32_t)(a), (int32_t)(b)))
/* a.r * b.r - a.i * b.i + c and a.r * b.i + a.i * b.r + c (wrapping) */
#define EK_MSD(a, b, c) __smlsd((int32_t)(a), (int32_t)(b), (c))
#define EK_MADX(a, b, c) __smladx((int32_t)(a), (int32_t)(b), (c))
/* a.r * a.r + a.i * a.i as uint32 (wrapping) */
#define EK_SQUARES(a) ((uint32_t)__smuad((int32_t)(a), (int32_t)(a)))
/* acc |= (|x.lo|, |x.hi|), 16 bits each (|-32768| reads 0x8000): SSUB16
 * sets the GE flags of the halves where 0 - x >= 0, SEL takes -x there */
#define EK_ABS16_OR_INTO(acc, x) \
    ((acc) |= (ek_pair)__sel(__ssub16(0, (int32_t)(x)), (int32_t)(x)))
/* (p0 >> WINDOW_BITS, p1 >> WINDOW_BITS), 16 bits each */
static EK_INLINE ek_pair ek_window_pack(int32_t p0, int32_t p1)
{
    ek_pair r;
    __asm__("pkhtb %0, %1, %2, asr %3"
            : "=r"(r)
            : "r"((uint32_t)p1 << (16 - EK_FE_WINDOW_BITS)), "r"(p0), "i"(EK_FE_WINDOW_BITS));
    return r;
}
/* (the low half of lo, the high half of hi) */
static EK_INLINE ek_pair ek_halves(ek_pair lo, ek_pair hi)
{
    ek_pair r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}
#define EK_WINDOW_PACK(p0, p1) ek_window_pack((p0), (p1))
#define EK_HALVES(lo, hi) ek_halves((lo), (hi))
/* the complex conjugate (the imaginary half negated, keeping 16 bits) */
#define EK_CONJ(x) ek_halves((x), (ek_pair)__ssub16(0, (int32_t)(x)))
#else
static ek_pair ek_add16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) + lo16(b), hi16(a) + hi16(b));
}
static ek_pair ek_sub16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) - lo16(b), hi16(a) - hi16(b));
}
static ek_pair ek_sax16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) + hi16(b), hi16(a) - lo16(b));
}
static ek_pair ek_asx16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) - hi16(b), hi16(a) + lo16(b));
}
static ek_pair ek_hadd16(ek_pair a, ek_pair b)
{
    return pack((lo16(a) + lo16(b)) >> 1, (hi16(a) + hi16(b)) >> 1);
}
static ek_pair ek_hsub16(ek_pair a, ek_pair b)
{
    return pack((lo16(a) - lo16(b)) >> 1, (hi16(a) - hi16(b)) >> 1);
}
static int32_t ek_msd(ek_pair a, ek_pair b, int32_t c)
{
    return (int32_t)((uint32_t)(lo16(a) * lo16(b)) - (uint32_t)(hi16(a) * hi16(b)) + (uint32_t)c);
}
static int32_t ek_madx(ek_pair a, ek_pair b, int32_t c)
{
    return (int32_t)((uint32_t)(lo16(a) * hi16(b)) + (uint32_t)(hi16(a) * lo16(b)) + (uint32_t)c);
}
#define EK_ADD16(a, b) ek_add16((a), (b))
#define EK_SUB16(a, b) ek_sub16((a), (b))
#define EK_SAX16(a, b) ek_sax16((a), (b))
#define EK_ASX16(a, b) ek_asx16((a), (b))
#define EK_HADD16(a, b) ek_hadd16((a), (b))
#define EK_HSUB16(a, b) ek_hsub16((a), (b))
#define EK_MSD(a, b, c) ek_msd((a), (b), (c))
#define EK_MADX(a, b, c) ek_madx((a), (b), (c))
#define EK_SQUARES(a) ((uint32_t)(lo16(a) * lo16(a)) + (uint32_t)(hi16(a) * hi16(a)))
#define EK_ABS16_OR_INTO(acc, x) \
    ((acc) |= pack(lo16(x) < 0 ? -lo16(x) : lo16(x), hi16(x) < 0 ? -hi16(x) : hi16(x)))
#define EK_WINDOW_PACK(p0, p1) pack((p0) >> EK_FE_WINDOW_BITS, (p1) >> EK_FE_WINDOW_BITS)
#define EK_HALVES(lo, hi) (((lo) & 0xFFFFu) | ((hi) & 0xFFFF0000u))
#define EK_CONJ(x) pack(lo16(x), -hi16(x))
#endif

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

/* The windowed value of sample n (the reference's exact arithmetic). */
static int32_t windowed(const int16_t *samples, uint32_t n)
{
    int32_t x = ((int32_t)samples[n] * ek_fe_window[n]) >> EK_FE_WINDOW_BITS;
    if (x > INT16_MAX) {
        x = INT16_MAX;
    } else if (x < INT16_MIN) {
        x = INT16_MIN;
    }
    return x;
}

/* The auto-scale shift of a peak (its bits used; 0, or a "negative" peak,
 * counts as 32 bits: no scaling), as in the reference. */
static uint32_t shift_of_peak(int32_t peak)
{
    const uint32_t used = peak > 0 ? msb32((uint32_t)peak) : 32u;
    return used < 15u ? 15u - used : 0u;
}

/*
 * The windowed samples can reach -32768 only where |weight| >= 2^WINDOW_BITS
 * (|sample| <= 32768): the positions [EK_FE_FULL_FIRST, EK_FE_FULL_LAST].
 * The pairs from TAIL_PAIR on lie after them (the "tail"): ek_fe_window_and_scale
 * keeps their min and max apart, for reference_shift.
 */
#if EK_FE_WINDOW_FULL
#define TAIL_PAIR ((EK_FE_FULL_LAST + 2u) / 2u < WIN / 2u ? (EK_FE_FULL_LAST + 2u) / 2u : WIN / 2u)
#else
#define TAIL_PAIR (WIN / 2u)
#endif

static int32_t abs_if(int32_t x)
{
    return x < 0 ? -x : x;
}

/* The bits of max |x| (only its leading one counts) from an EK_ABS16_OR_INTO
 * accumulator with no -32768: the OR of its halves. */
static int32_t peak_bits(ek_pair acc)
{
    return (int32_t)((acc | (acc >> 16)) & 0xFFFFu);
}

/* The stored (windowed) pair c of the FFT buffer; the pair after the last
 * whole one holds the odd sample (and 0) when WIN is odd. */
static EK_INLINE ek_pair stored_pair(const ek_pair *fft, uint32_t c)
{
    return fft[ek_fe_position[c]];
}

/* The tail pairs [TAIL_PAIR, WIN / 2) in blocks of TAIL_BLOCK: the bits of
 * |x| of each block are kept too. */
#define TAIL_BLOCK 8u
#define TAIL_BLOCKS ((WIN / 2u - TAIL_PAIR + TAIL_BLOCK - 1u) / TAIL_BLOCK + 1u)

/* peak | the bits of |x| over the stored pairs from c on (none -32768):
 * pair by pair up to the next block of the tail, then its blocks' bits. */
static int32_t peak_from(const ek_pair *fft, uint32_t c, int32_t peak, const ek_pair *blocks)
{
    ek_pair acc = 0;
    uint32_t end, b;
    if (c < TAIL_PAIR) {
        end = TAIL_PAIR;
        b = 0;
    } else {
        b = (c - TAIL_PAIR) / TAIL_BLOCK + 1u;
        end = TAIL_PAIR + b * TAIL_BLOCK;
        end = end < WIN / 2u ? end : WIN / 2u;
    }
    for (; c < end; ++c) {
        const ek_pair x = stored_pair(fft, c);
        EK_ABS16_OR_INTO(acc, x);
    }
    for (; b * TAIL_BLOCK < WIN / 2u - TAIL_PAIR; ++b) {
        acc |= blocks[b];
    }
    for (c = WIN / 2u; c < (WIN + 1u) / 2u; ++c) { /* the odd sample, if any */
        const ek_pair x = stored_pair(fft, c);
        EK_ABS16_OR_INTO(acc, x);
    }
    return peak | peak_bits(acc);
}

/*
 * The auto-scale shift of the reference when a windowed value is -32768.
 * Its peak is a running max |x| kept in int16: -32768 reads as -32768, and
 * from there on a sample replaces the peak when it is larger (x > peak) or
 * when -x > peak.  So after the last -32768 (found among the few full-weight
 * positions) the peak follows the samples while they rise and stay negative;
 * at the first that does not, it becomes that sample's |x|, and from then on
 * the plain running max |x| (no -32768 follows): peak_from, which reads the
 * max over the tail pairs (tail_peak, computed while windowing) unless the
 * rise ran into the tail.  The windowed values are read back from the FFT
 * buffer.
 */
static EK_NOINLINE uint32_t reference_shift(const int16_t *samples, const ek_pair *fft,
                                            const ek_pair *blocks)
{
#if EK_FE_WINDOW_FULL
    uint32_t n = EK_FE_FULL_LAST, c;
    int32_t peak = INT16_MIN;
    for (;;) { /* stops at EK_FE_FULL_FIRST at the latest: a -32768 was seen */
        const ek_pair x = stored_pair(fft, n / 2);
        if ((n % 2 != 0 ? hi16(x) : lo16(x)) == INT16_MIN) {
            break;
        }
        --n;
    }
    /* the rise, from sample n + 1 (a padding 0 after an odd WIN ends it) */
    c = (n + 1) / 2;
    if (n % 2 == 0) { /* n + 1 is the high half of pair c */
        const int32_t b = hi16(stored_pair(fft, c));
        ++c;
        if (b >= 0 || b <= peak) {
            return shift_of_peak(peak_from(fft, c, abs_if(b), blocks));
        }
        peak = b;
    }
    for (; c < (WIN + 1) / 2; ++c) {
        const ek_pair x = stored_pair(fft, c);
        const int32_t a = lo16(x), b = hi16(x);
        if (a >= 0 || a <= peak) {
            return shift_of_peak(peak_from(fft, c + 1, abs_if(a) | abs_if(b), blocks));
        }
        if (b >= 0 || b <= a) {
            return shift_of_peak(peak_from(fft, c + 1, abs_if(b), blocks));
        }
        peak = b;
        if (2u * c > EK_FE_FULL_LAST && load32(samples + 2u * c) == 0x80008000u) {
            /* then the next pairs of -32768 samples keep rising, while the
             * weights fall: x = -32768 w / 2^WINDOW_BITS (w < 2^WINDOW_BITS) */
            while (c + 1u < EK_FE_FALL_END / 2u && load32(samples + 2u * (c + 1u)) == 0x80008000u) {
                ++c;
            }
            peak = hi16(stored_pair(fft, c));
        }
    }
    return 0u; /* it rose to the end: a negative peak, no scaling */
#else
    (void)samples;
    (void)fft;
    (void)blocks;
    return 0u; /* unreachable: no windowed sample can be -32768 */
#endif
}

/* The windowed pair of samples 2c, 2c + 1. */
static EK_INLINE ek_pair windowed_pair(const int16_t *samples, uint32_t c)
{
#if EK_FE_WINDOW_SATURATES
    return pack(windowed(samples, 2 * c), windowed(samples, 2 * c + 1));
#else
    const uint32_t s = load32(samples + 2 * c);
    const uint32_t w = load32(ek_fe_window + 2 * c);
    return EK_WINDOW_PACK(lo16(s) * lo16(w), hi16(s) * hi16(w));
#endif
}

/* Window pair c into the FFT buffer, |x| into acc. */
#define EK_WINDOW_PAIR(c, acc)                           \
    do {                                                 \
        const ek_pair x_ = windowed_pair(samples, (c));  \
        EK_ABS16_OR_INTO((acc), x_);                     \
        fft[ek_fe_position[(c)]] = x_;                   \
    } while (0)

/* Window the buffered samples into the FFT buffer (digit-reversed order,
 * zero padded) and return the auto-scale shift (applied by first_stage).
 * The shift depends on the leading one of the peak max |x| only: the |x|
 * are ORed together (a -32768 sets bit 15), by pairs unrolled by two, and
 * in the tail by blocks of TAIL_BLOCK pairs. */
uint32_t ek_fe_window_and_scale(const int16_t *samples, ek_pair *fft)
{
    ek_pair head = 0, tail = 0; /* |x| ORed, per half: before and in the tail */
    ek_pair blocks[TAIL_BLOCKS]; /* the same per block of the tail */
    uint32_t c, b;
    for (c = 0; c + 2 <= TAIL_PAIR; c += 2) {
        EK_WINDOW_PAIR(c, head);
        EK_WINDOW_PAIR(c + 1, head);
    }
    if (TAIL_PAIR % 2 != 0) {
        EK_WINDOW_PAIR(c, head);
        ++c;
    }
    for (b = 0; c + TAIL_BLOCK <= WIN / 2; c += TAIL_BLOCK, ++b) {
        ek_pair acc = 0;
        EK_WINDOW_PAIR(c, acc);
        EK_WINDOW_PAIR(c + 1, acc);
        EK_WINDOW_PAIR(c + 2, acc);
        EK_WINDOW_PAIR(c + 3, acc);
        EK_WINDOW_PAIR(c + 4, acc);
        EK_WINDOW_PAIR(c + 5, acc);
        EK_WINDOW_PAIR(c + 6, acc);
        EK_WINDOW_PAIR(c + 7, acc);
        blocks[b] = acc;
        tail |= acc;
    }
    blocks[b] = 0;
    for (; c < WIN / 2; ++c) {
        EK_WINDOW_PAIR(c, blocks[b]);
    }
    tail |= blocks[b];
    if (WIN % 2 != 0) {
        const ek_pair x = pack(windowed(samples, WIN - 1), 0);
        EK_ABS16_OR_INTO(head, x);
        fft[ek_fe_position[WIN / 2]] = x;
        ++c;
    }
    for (; c < HALF; ++c) {
        fft[ek_fe_position[c]] = 0u;
    }
    if ((head & 0x80008000u) != 0u) { /* a -32768: the reference's peak may end anywhere */
        return reference_shift(samples, fft, blocks) | EK_FE_SHIFT_MAY_WRAP;
    }
    /* otherwise the reference's peak is max |x| */
    return shift_of_peak(peak_bits(head | tail));
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
