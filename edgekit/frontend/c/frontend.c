/*
 * edgekit audio front end (see frontend.h).  C99, static memory only.
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
#include "frontend.h"

#include <string.h>

#include "frontend_tables.h"

/* Profiling hooks: empty unless a measurement firmware compiles with
 * -DEK_FRONTEND_PROFILE and supplies "frontend_profile.h", which defines
 * EK_FRONTEND_PROFILE_BEGIN/END(stage) (stage: EK_FRONTEND_STAGE_*). */
#if defined(EK_FRONTEND_PROFILE)
#include "frontend_profile.h"
#else
#define EK_FRONTEND_PROFILE_BEGIN(stage) ((void)0)
#define EK_FRONTEND_PROFILE_END(stage) ((void)0)
#endif

#define WIN EK_FRONTEND_WINDOW_SIZE
#define STRIDE EK_FRONTEND_STRIDE
#define HALF (EK_FRONTEND_FFT_SIZE / 2)
#define NCH EK_FRONTEND_NUM_CHANNELS

#if defined(__GNUC__)
#define EK_INLINE inline __attribute__((always_inline))
#define EK_NOINLINE __attribute__((noinline))
#else
#define EK_NOINLINE
#define EK_INLINE inline
#endif

/* A complex Q15 value packed in 32 bits: real part in the low half, imaginary
 * part in the high half (two's complement each), the layout of the Cortex-M
 * DSP extension's dual 16-bit instructions. */
typedef uint32_t ek_pair;

static struct {
    int16_t samples[WIN];
#if EK_FE_NOISE_REDUCTION
    uint32_t noise[NCH];
#endif
    uint32_t fill;
} state;

/* fft: the FFT as packed pairs, then (same slots) the energy of each bin. */
static struct {
    ek_pair fft[HALF];
    uint64_t sums[NCH];
    uint32_t chan[NCH];
} scratch;

/* Position (1-based) of the most significant set bit; 0 for 0. */
static uint32_t msb32(uint32_t x)
{
#if defined(__GNUC__)
    return x ? 32u - (uint32_t)__builtin_clz(x) : 0u;
#else
    uint32_t n = 0;
    while (x) {
        x >>= 1;
        ++n;
    }
    return n;
#endif
}

static uint32_t msb64(uint64_t x)
{
    uint32_t hi = (uint32_t)(x >> 32);
    return hi ? 32u + msb32(hi) : msb32((uint32_t)x);
}

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
/* per half: hi = max(hi, x), lo = min(lo, x) (SSUB16 sets the GE flags
 * SEL reads; GCC models the GE flags of these intrinsics) */
#define EK_MINMAX16_INTO(lo, hi, x)                                              \
    do {                                                                         \
        (void)__ssub16((int32_t)(x), (int32_t)(hi));                             \
        (hi) = (ek_pair)__sel((x), (hi));                                        \
        (void)__ssub16((int32_t)(lo), (int32_t)(x));                             \
        (lo) = (ek_pair)__sel((x), (lo));                                        \
    } while (0)
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
static ek_pair ek_max16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) > lo16(b) ? lo16(a) : lo16(b), hi16(a) > hi16(b) ? hi16(a) : hi16(b));
}
static ek_pair ek_min16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) < lo16(b) ? lo16(a) : lo16(b), hi16(a) < hi16(b) ? hi16(a) : hi16(b));
}
#define EK_MINMAX16_INTO(lo, hi, x) ((lo) = ek_min16((lo), (x)), (hi) = ek_max16((hi), (x)))
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

/* The first stage (m = 1: no twiddles) on the auto-scaled inputs. */
static void first_stage(ek_pair *f, uint32_t shift)
{
    uint32_t g;
    if (EK_FE_FIRST_RADIX == 4) {
        for (g = 0; g < HALF / 4; ++g, f += 4) {
            ek_pair a0 = q15_scale_shl(f[0], shift, 32767 / 4);
            const ek_pair a1 = q15_scale_shl(f[1], shift, 32767 / 4);
            const ek_pair a2 = q15_scale_shl(f[2], shift, 32767 / 4);
            const ek_pair a3 = q15_scale_shl(f[3], shift, 32767 / 4);
            EK_BUTTERFLY4(f, 1, a1, a2, a3);
        }
    } else {
        for (g = 0; g < HALF / 2; ++g, f += 2) {
            const ek_pair a0 = q15_scale_shl(f[0], shift, 32767 / 2);
            const ek_pair a1 = q15_scale_shl(f[1], shift, 32767 / 2);
            f[1] = EK_SUB16(a0, a1);
            f[0] = EK_ADD16(a0, a1);
        }
    }
}

/* The windowed value of sample n (the reference's exact arithmetic). */
static int32_t windowed(uint32_t n)
{
    int32_t x = ((int32_t)state.samples[n] * ek_fe_window[n]) >> EK_FE_WINDOW_BITS;
    if (x > INT16_MAX) {
        x = INT16_MAX;
    } else if (x < INT16_MIN) {
        x = INT16_MIN;
    }
    return x;
}

/* The auto-scale shift of the reference when a windowed value is -32768:
 * from its running max |x| kept in int16 (so -32768 reads as -32768 and
 * later samples may replace it); a zero peak counts as 32 bits used (no
 * scaling), as in the reference.  Whatever came before, the peak is -32768
 * right after the last -32768, so only the samples after it are replayed. */
static EK_NOINLINE uint32_t reference_shift(void)
{
    int16_t peak;
    uint32_t n = WIN, used;
    while (n > 0 && windowed(n - 1) != INT16_MIN) {
        --n;
    }
    peak = n > 0 ? INT16_MIN : 0; /* (none: the plain running max) */
    for (; n < WIN; ++n) {
        const int32_t x = windowed(n);
        if (x > peak) {
            peak = (int16_t)x;
        } else if (-x > peak) {
            peak = (int16_t)(-x);
        }
    }
    used = peak != 0 ? msb32((uint32_t)(int32_t)peak) : 32u;
    return used < 15u ? 15u - used : 0u;
}

/* Window the buffered samples into the FFT buffer (digit-reversed order,
 * zero padded) and return the auto-scale shift (applied by first_stage). */
static EK_NOINLINE uint32_t window_and_scale(void)
{
    ek_pair lo = 0, hi = 0; /* min and max windowed value, per half */
    uint32_t c, used;
    int32_t peak;
    for (c = 0; c < WIN / 2; ++c) {
#if EK_FE_WINDOW_SATURATES
        const ek_pair x = pack(windowed(2 * c), windowed(2 * c + 1));
#else
        const uint32_t s = load32(state.samples + 2 * c);
        const uint32_t w = load32(ek_fe_window + 2 * c);
        const ek_pair x = EK_WINDOW_PACK(lo16(s) * lo16(w), hi16(s) * hi16(w));
#endif
        EK_MINMAX16_INTO(lo, hi, x);
        scratch.fft[ek_fe_position[c]] = x;
    }
    if (WIN % 2 != 0) {
        const ek_pair x = pack(windowed(WIN - 1), 0);
        EK_MINMAX16_INTO(lo, hi, x);
        scratch.fft[ek_fe_position[WIN / 2]] = x;
        ++c;
    }
    for (; c < HALF; ++c) {
        scratch.fft[ek_fe_position[c]] = 0u;
    }
    if (lo16(lo) == INT16_MIN || hi16(lo) == INT16_MIN) {
        return reference_shift(); /* the reference's peak may end anywhere */
    }
    /* otherwise the reference's peak is max |x| */
    peak = hi16(hi) > lo16(hi) ? hi16(hi) : lo16(hi);
    peak = -lo16(lo) > peak ? -lo16(lo) : peak;
    peak = -hi16(lo) > peak ? -hi16(lo) : peak;
    used = peak != 0 ? msb32((uint32_t)peak) : 32u;
    return used < 15u ? 15u - used : 0u;
}

static void complex_fft(uint32_t shift)
{
    first_stage(scratch.fft, shift);
#define EK_FE_RADIX4(m, fstride) radix4_stage(scratch.fft, (m), (fstride));
#define EK_FE_RADIX2(m, fstride) radix2_stage(scratch.fft, (m), (fstride));
    EK_FE_FFT_LATER_STAGES
#undef EK_FE_RADIX4
#undef EK_FE_RADIX2
}

/* Split the complex FFT into the real FFT's bins and replace each slot by
 * the energy of its bin, zero outside [ENERGY_START, ENERGY_END). */
static void real_spectrum_energy(void)
{
    uint32_t k;
    ek_pair *f = scratch.fft;
    for (k = 1; k <= HALF / 2; ++k) {
        const ek_pair fpk = q15_scale(f[k], 32767 / 2);
        const ek_pair y = f[HALF - k];
        /* conjugate: the imaginary half negated, keeping 16 bits */
        const ek_pair fpnk = q15_scale(EK_CONJ(y), 32767 / 2);
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

/* floor(sqrt(x)) for x < 2^32: two Newton steps (hardware division on a
 * Cortex-M4) from an overestimate out of a 48-entry table, then one
 * correction.  Checked against the definition exhaustively for x < 2^32. */
static uint32_t isqrt32(uint32_t x)
{
    uint32_t e, idx, r;
    if (x < 4u) {
        return x != 0u;
    }
    e = (msb32(x) - 1u) & ~1u; /* even; x >> e in [1, 4) */
    idx = e >= 4u ? x >> (e - 4u) : x << (4u - e); /* top bits, in [16, 64) */
    r = (ek_fe_sqrt_lut[idx - 16u] >> (16u - e / 2u)) + 1u; /* > sqrt(x) */
    r = (r + x / r) >> 1;
    r = (r + x / r) >> 1;
    if ((uint64_t)r * r > x) {
        --r;
    }
    return r;
}

/* Rounded square root as the reference computes it: floor(sqrt(x)) plus one
 * when the remainder exceeds the root, except at the top of the range (a
 * root of 0xFFFF for x < 2^32, of 0xFFFFFFFF above). */
static uint32_t sqrt64_round(uint64_t x)
{
    uint32_t r;
    if ((x >> 32) == 0) {
        const uint32_t x32 = (uint32_t)x;
        r = isqrt32(x32);
        return (x32 - r * r > r && r != 0xFFFFu) ? r + 1u : r;
    } else {
        /* the root of the top 31 or 32 bits, then two bits at a time */
        uint32_t j = (msb64(x) - 31u) / 2u;
        const uint32_t top = (uint32_t)(x >> (2u * j));
        uint64_t rem;
        r = isqrt32(top);
        rem = top - r * r;
        while (j-- > 0u) {
            const uint64_t step = 4u * (uint64_t)r + 1u; /* (2r + 1)^2 - (2r)^2 */
            rem = (rem << 2) | ((x >> (2u * j)) & 3u);
            r <<= 1;
            if (rem >= step) {
                rem -= step;
                r |= 1u;
            }
        }
        return (rem > r && r != 0xFFFFFFFFu) ? r + 1u : r;
    }
}

/* Mel filterbank on the energies (64-bit sums, one per channel). */
static void filterbank(void)
{
    uint64_t acc = 0, unacc = 0;
    uint32_t c;
    for (c = 0; c < NCH + 1; ++c) {
        const ek_pair *e = scratch.fft + ek_fe_fb_first_bin[c];
        const int16_t *w = ek_fe_fb_weights + ek_fe_fb_first_weight[c];
        const int16_t *u = ek_fe_fb_unweights + ek_fe_fb_first_weight[c];
        int32_t j;
        for (j = 0; j < ek_fe_fb_counts[c]; ++j) {
            acc += (uint64_t)(uint32_t)w[j] * e[j];
            unacc += (uint64_t)(uint32_t)u[j] * e[j];
        }
        if (c > 0) {
            scratch.sums[c - 1] = acc;
        }
        acc = unacc;
        unacc = 0;
    }
}

/* Square root of each channel's sum, then undo the auto-scale. */
static void filterbank_sqrt(uint32_t shift)
{
    uint32_t c;
    for (c = 0; c < NCH; ++c) {
        scratch.chan[c] = sqrt64_round(scratch.sums[c]) >> shift;
    }
}

#if EK_FE_NOISE_REDUCTION
/* Channel i with its smoothing (the even and odd channels have their own). */
static EK_INLINE void subtract_noise(uint32_t i, const uint32_t smooth, const uint32_t keep)
{
    const uint32_t up = scratch.chan[i] << EK_FE_SMOOTHING_BITS;
    uint32_t estimate, floor_value, subtracted;
    state.noise[i] = (uint32_t)(((uint64_t)up * smooth + (uint64_t)state.noise[i] * keep) >>
                                EK_FE_SPECTRAL_SUBTRACTION_BITS);
    estimate = state.noise[i];
    if (estimate > up) {
        estimate = up;
#if EK_FE_CLAMPING
        state.noise[i] = estimate;
#endif
    }
    floor_value = (uint32_t)(((uint64_t)scratch.chan[i] * EK_FE_MIN_SIGNAL_REMAINING) >>
                             EK_FE_SPECTRAL_SUBTRACTION_BITS);
    subtracted = (up - estimate) >> EK_FE_SMOOTHING_BITS;
    scratch.chan[i] = subtracted > floor_value ? subtracted : floor_value;
}

static void noise_reduction(void)
{
    uint32_t i;
    for (i = 0; i + 1 < NCH; i += 2) {
        subtract_noise(i, EK_FE_EVEN_SMOOTHING, EK_FE_EVEN_ONE_MINUS_SMOOTHING);
        subtract_noise(i + 1, EK_FE_ODD_SMOOTHING, EK_FE_ODD_ONE_MINUS_SMOOTHING);
    }
    if (NCH % 2 != 0) {
        subtract_noise(NCH - 1, EK_FE_EVEN_SMOOTHING, EK_FE_EVEN_ONE_MINUS_SMOOTHING);
    }
}
#endif

#if EK_FE_PCAN
/* Gain of the noise estimate x: per-octave quadratic from the table. */
static int16_t pcan_gain(uint32_t x)
{
    const int16_t *lut;
    uint32_t octave, frac, p;
    int32_t r;
    if (x <= 2) {
        return ek_fe_pcan_lut[x];
    }
    octave = msb32(x);
    lut = ek_fe_pcan_lut + 4 * octave - 6;
    frac = (octave < 11 ? x << (11 - octave) : x >> (octave - 11)) & 0x3FFu;
    r = ((int32_t)lut[2] * (int32_t)frac) >> 5;
    r += (int32_t)lut[1] * 32;
    p = (uint32_t)r * frac;                        /* wraps like the reference */
    r = (int32_t)(p + 16384u) >> 15;
    r += lut[0];
    return (int16_t)r;
}

static void pcan(void)
{
    uint32_t i;
    for (i = 0; i < NCH; ++i) {
        const uint32_t gain = (uint32_t)(int32_t)pcan_gain(state.noise[i]);
        const uint32_t snr = (uint32_t)(((uint64_t)scratch.chan[i] * gain) >> EK_FE_SNR_SHIFT);
        /* shrink: snr^2 / 4 below 2, snr - 1 above (SNR in Q12, result in Q6) */
        scratch.chan[i] = snr < (2u << 12) ? (snr * snr) >> 20 : (snr >> 6) - (1u << 6);
    }
}
#endif

#if EK_FE_LOG
static uint32_t log2_fraction(uint32_t x, uint32_t log2x)
{
    int32_t frac = (int32_t)(x - ((uint32_t)1 << log2x));
    uint32_t seg;
    int32_t c0, c1, rel;
    if (log2x < 16) {
        frac = (int32_t)((uint32_t)frac << (16 - log2x));
    } else {
        frac >>= log2x - 16;
    }
    seg = (uint32_t)frac >> 9;
    c0 = ek_fe_log_lut[seg];
    c1 = ek_fe_log_lut[seg + 1];
    rel = ((c1 - c0) * (frac - (int32_t)(seg << 9))) >> 16;
    return (uint32_t)(frac + c0 + rel);
}

/* round(EK_FE_LOG_SCALE * ln(x)) in fixed point, x >= 2. */
static uint32_t log_scaled(uint32_t x)
{
    const uint32_t integer = msb32(x) - 1;
    const uint32_t log2 = (integer << 16) + log2_fraction(x, integer);
    const uint32_t loge = (uint32_t)(((uint64_t)EK_FE_LN2_Q16 * log2 + 32768u) >> 16);
    return ((uint32_t)EK_FE_LOG_SCALE * loge + 32768u) >> 16;
}
#endif

#if EK_FE_LOG
/* Each channel to round(LOG_SCALE * ln(value << CORRECTION_BITS)), 0 below 2. */
static void log_channels(void)
{
    uint32_t i;
    for (i = 0; i < NCH; ++i) {
        const uint32_t scaled = scratch.chan[i] << EK_FE_CORRECTION_BITS;
        scratch.chan[i] = scaled > 1 ? log_scaled(scaled) : 0u;
    }
}
#endif

static void quantize(int8_t *out)
{
    uint32_t i;
    for (i = 0; i < NCH; ++i) {
        uint32_t v = scratch.chan[i];
        int32_t q;
        if (v > INT16_MAX) {
            v = INT16_MAX;
        }
        q = ((int32_t)v * EK_FE_OUTPUT_MULTIPLIER + EK_FE_OUTPUT_DIVISOR / 2) / EK_FE_OUTPUT_DIVISOR +
            EK_FE_OUTPUT_ZERO_POINT;
        out[i] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
    }
}

static void compute_frame(int8_t *out)
{
    uint32_t shift;
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_WINDOW);
    shift = window_and_scale();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_WINDOW);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_FFT);
    complex_fft(shift);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_FFT);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_ENERGY);
    real_spectrum_energy();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_ENERGY);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_FILTERBANK);
    filterbank();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_FILTERBANK);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_SQRT);
    filterbank_sqrt(shift);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_SQRT);
#if EK_FE_NOISE_REDUCTION
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_SPECTRAL_SUBTRACTION);
    noise_reduction();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_SPECTRAL_SUBTRACTION);
#endif
#if EK_FE_PCAN
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_PCAN);
    pcan();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_PCAN);
#endif
#if EK_FE_LOG
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_LOG);
    log_channels();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_LOG);
#endif
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_OUTPUT);
    quantize(out);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_OUTPUT);
}

void ek_frontend_reset(void)
{
    memset(&state, 0, sizeof(state));
}

size_t ek_frontend_push(const int16_t *pcm, size_t n, int8_t *frames, size_t max_frames)
{
    size_t need, written = 0;
    if (n == 0) {
        return 0;
    }
    if (pcm == NULL) {
        return EK_FRONTEND_ERROR;
    }
    need = (state.fill + n >= WIN) ? (state.fill + n - WIN) / STRIDE + 1 : 0;
    if (need > max_frames || (need > 0 && frames == NULL)) {
        return EK_FRONTEND_ERROR;
    }
    while (n > 0) {
        size_t take = WIN - state.fill;
        if (take > n) {
            take = n;
        }
        memcpy(state.samples + state.fill, pcm, take * sizeof(int16_t));
        state.fill += (uint32_t)take;
        pcm += take;
        n -= take;
        if (state.fill == WIN) {
            compute_frame(frames + written * NCH);
            ++written;
            memmove(state.samples, state.samples + STRIDE, (WIN - STRIDE) * sizeof(int16_t));
            state.fill = WIN - STRIDE;
        }
    }
    return written;
}

size_t ek_frontend_buffered(void)
{
    return state.fill;
}

size_t ek_frontend_state_bytes(void)
{
    return sizeof(state);
}

size_t ek_frontend_scratch_bytes(void)
{
    return sizeof(scratch);
}

#if defined(EK_FRONTEND_TEST_HOOKS)
/* For the tests only (tests/frontend): the rounded square root. */
uint32_t ek_frontend_test_sqrt(uint64_t x);
uint32_t ek_frontend_test_sqrt(uint64_t x)
{
    return sqrt64_round(x);
}
#endif
