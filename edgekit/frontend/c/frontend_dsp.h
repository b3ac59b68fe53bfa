/*
 * edgekit audio front end: helpers of frontend_window.c and frontend_fft.c
 * on complex Q15 values packed in 32 bits (ek_pair, frontend_internal.h).
 * Private; with the DSP extension they are its dual 16-bit instructions
 * (ACLE intrinsics), the portable C computes the same bits.
 */
#ifndef EK_FRONTEND_DSP_H
#define EK_FRONTEND_DSP_H

#include <string.h>

#include "frontend_internal.h"

static inline uint32_t load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline int32_t lo16(ek_pair x)
{
    return (int16_t)(x & 0xFFFFu);
}

static inline int32_t hi16(ek_pair x)
{
    return (int16_t)(x >> 16);
}

/* The low 16 bits of lo and of hi as a pair (narrowing keeps the low bits). */
static inline ek_pair pack(int32_t lo, int32_t hi)
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
static inline ek_pair ek_add16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) + lo16(b), hi16(a) + hi16(b));
}
static inline ek_pair ek_sub16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) - lo16(b), hi16(a) - hi16(b));
}
static inline ek_pair ek_sax16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) + hi16(b), hi16(a) - lo16(b));
}
static inline ek_pair ek_asx16(ek_pair a, ek_pair b)
{
    return pack(lo16(a) - hi16(b), hi16(a) + lo16(b));
}
static inline ek_pair ek_hadd16(ek_pair a, ek_pair b)
{
    return pack((lo16(a) + lo16(b)) >> 1, (hi16(a) + hi16(b)) >> 1);
}
static inline ek_pair ek_hsub16(ek_pair a, ek_pair b)
{
    return pack((lo16(a) - lo16(b)) >> 1, (hi16(a) - hi16(b)) >> 1);
}
static inline int32_t ek_msd(ek_pair a, ek_pair b, int32_t c)
{
    return (int32_t)((uint32_t)(lo16(a) * lo16(b)) - (uint32_t)(hi16(a) * hi16(b)) + (uint32_t)c);
}
static inline int32_t ek_madx(ek_pair a, ek_pair b, int32_t c)
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

#endif /* EK_FRONTEND_DSP_H */
