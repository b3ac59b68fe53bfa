/* edgekit: fixed-point helpers shared by the int8/int16 kernels.
 *
 * These follow the arithmetic of TFLite's integer quantization spec as TFLM's
 * reference kernels compute it (double rounding: a saturating rounding
 * doubling high multiply, then a rounding right shift), so that results are
 * bit-exact with TFLM.  Written for edgekit from the spec and the gemmlowp
 * fixed-point definitions.
 */
#ifndef EK_FIXEDPOINT_H
#define EK_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t ek_min32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t ek_max32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t ek_clamp32(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* round(a * b / 2^31) with ties away from zero; saturates the one overflow
 * case (INT32_MIN * INT32_MIN). */
static inline int32_t ek_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero. */
static inline int32_t ek_rdbpot(int32_t x, int exponent) {
    int32_t mask = (int32_t)((1LL << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* Saturating x * 2^exponent (exponent may be negative: rounding shift). */
static inline int32_t ek_sat_mul_pot(int32_t x, int exponent) {
    if (exponent <= 0) {
        return ek_rdbpot(x, -exponent);
    }
    int32_t lim = (int32_t)(INT32_MAX >> exponent);
    if (x > lim) return INT32_MAX;
    if (x < -lim - 1) return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
}

static inline int32_t ek_shl(int32_t x, int s) { return (int32_t)((uint32_t)x << s); }

/* x * multiplier * 2^shift, multiplier a Q0.31 value in [0.5, 1). */
static inline int32_t ek_mbqm(int32_t x, int32_t multiplier, int shift) {
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return ek_rdbpot(ek_srdhm(ek_shl(x, left), multiplier), right);
}

/* (a*b + 2^31) >> 32, the rounding high product (SMMULR on cores with DSP). */
static inline int32_t ek_mulhr(int32_t a, int32_t b) {
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) \
    || defined(__ARM_ARCH_8_1M_MAIN__)
#define EK_HAS_SAT 1   /* SSAT / USAT (ARMv7-M and later) */
#else
#define EK_HAS_SAT 0
#endif

/* x clamped to int8: one SSAT on Arm cores that have it. */
static inline int32_t ek_sat8(int32_t x) {
#if EK_HAS_SAT
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(x));
    return r;
#else
    return x < -128 ? -128 : (x > 127 ? 127 : x);
#endif
}

/* x clamped to [0, 255]: one USAT on Arm cores that have it. */
static inline int32_t ek_usat8(int32_t x) {
#if EK_HAS_SAT
    int32_t r;
    __asm__("usat %0, #8, %1" : "=r"(r) : "r"(x));
    return r;
#else
    return x < 0 ? 0 : (x > 255 ? 255 : x);
#endif
}

/* a + ((x*m + 2^31) >> 32), the rounding high product plus an addend
 * (SMMLAR on cores with DSP). */
static inline int32_t ek_mlahr(int32_t x, int32_t m, int32_t a) {
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(m), "r"(a));
    return r;
#else
    return a + (int32_t)(((int64_t)x * m + 0x80000000LL) >> 32);
#endif
}

/* rdbpot(srdhm(x, mult), rsh) + zp in one rounding high product, from x2 = 2x
 * and add = 2^(rsh-1) + (zp << rsh) (the ADD kernels' requantization). */
static inline int32_t ek_rq_x2(int32_t x2, int32_t mult, int32_t add, int32_t rsh) {
    const int32_t h = ek_mulhr(x2, mult);
    return (h + add + (h >> 31)) >> rsh;
}

/* TFLite's requantization of a 64-bit accumulator (16x8 kernels): the Q0.31
 * multiplier rounded to its top 16 bits, then one rounding right shift by
 * 15 - shift (shift in [-31, 7]). */
static inline int32_t ek_mbqm64(int64_t x, int32_t multiplier, int shift) {
    const int32_t m16 = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int right = 15 - shift;
    return (int32_t)((x * (int64_t)m16 + ((int64_t)1 << (right - 1))) >> right);
}

#endif /* EK_FIXEDPOINT_H */
