/* edgekit: helpers shared by the optimized Cortex-M kernels (kernels/optimized).
 *
 * Requantization: bit-exact with ek_mbqm for every accumulator, but with the
 * per-channel work (shift split, rounding mask) done once per channel.
 *   - ek_srdhm(a, b) == (a*b + 2^30) >> 31 (arithmetic shift) whenever
 *     a*b != INT32_MIN*INT32_MIN: for a*b < 0, truncating (a*b + 1 - 2^30)
 *     / 2^31 toward zero equals flooring (a*b + 2^30) / 2^31.  We exclude
 *     multiplier == INT32_MIN up front, so that case never occurs.
 *   - ek_rdbpot(x, e) is kept as is, with mask = 2^e - 1 hoisted.
 * The fast form needs 0 <= left, right <= 31; ekopt_rq_ok() checks that
 * (and the multiplier) for all channels, otherwise the kernel falls back
 * to the reference loop (ek_<op>_ref.h).
 *
 * Also: EKOPT_DSP (1 on cores with the DSP extension, arm_acle.h included),
 * EKOPT_USE (the kernel paths ek_paths.h lists),
 * unaligned 4-byte loads, the input offset as a halfword pair and the
 * byte-1/3 forms of SXTB16/SXTAB16.
 */
#ifndef EK_OPT_REQUANT_H
#define EK_OPT_REQUANT_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define EKOPT_DSP 1
#else
#define EKOPT_DSP 0
#endif

/* Kernel paths compiled: EKOPT_USE(EKOPT_<PATH>) is true when ek_paths.h
 * lists the path as taken by a layer of the model (or compiles all). */
#include "ek_paths.h"
#define EKOPT_USE(path) (EKOPT_PATHS_ALL || (path))
/* The kernel chose a path ek_paths.h leaves out: the generator's choice
 * (kernel_paths.py) and the kernel's disagree.  Stop rather than take
 * another path silently. */
#define EKOPT_NOT_LISTED() __builtin_trap()

typedef struct {
    int32_t mult, lsh, rsh, mask, half;
} ekopt_rq;

static inline int ekopt_rq_ok(const int32_t *mult, const int32_t *shift, int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        if (mult[i] == INT32_MIN || shift[i] > 31 || shift[i] < -31) return 0;
    }
    return 1;
}

static inline ekopt_rq ekopt_rq_make(int32_t mult, int32_t shift) {
    ekopt_rq q;
    q.mult = mult;
    q.lsh = shift > 0 ? shift : 0;
    q.rsh = shift > 0 ? 0 : -shift;
    q.mask = (int32_t)((1u << q.rsh) - 1u);
    q.half = q.mask >> 1;
    return q;
}

static inline int32_t ekopt_rq_apply(int32_t acc, const ekopt_rq *q) {
    const int32_t x = (int32_t)((uint32_t)acc << q->lsh);
    const int32_t h = (int32_t)(((int64_t)x * q->mult + (1LL << 30)) >> 31);
    return (h >> q->rsh) + ((h & q->mask) > q->half + (int32_t)((uint32_t)h >> 31));
}

/* Four int8 as one little-endian word (unaligned LDR on ARMv7E-M). */
static inline int32_t ekopt_ld4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Four int8 stored as one word (unaligned STR on ARMv7E-M). */
static inline void ekopt_st4(int8_t *p, int32_t v) {
    memcpy(p, &v, 4);
}

/* Input offset in both halfwords, for SXTAB16. */
static inline int32_t ekopt_off2(int32_t off) {
    return (int32_t)(((uint32_t)off & 0xffffu) * 0x10001u);
}

#if EKOPT_DSP
/* Rotate right by 8: SXTB16/SXTAB16 of the rotated word pick bytes 1 and 3
 * (gcc folds the rotation into the extend instruction). */
static inline int32_t ekopt_ror8(int32_t v) {
    return (int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24));
}
/* SXTB16 / SXTAB16 of bytes 1 and 3 (rotation folded into the instruction). */
static inline int32_t ekopt_sxtb16_hi(int32_t v) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
static inline int32_t ekopt_sxtab16_hi(int32_t a, int32_t v) {
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
}
#endif

/* ---- Fused requantization with the output offset (right shifts 1..22) ----
 *
 * ek_mbqm(x, m, -r) + zp for m >= 0 and 1 <= r <= 22, as one 64-bit
 * multiply-accumulate and one shift:
 *   h = SRDHM(x, m) = floor((x*m + 2^30) / 2^31)           (see above)
 *   RDBPOT(h, r)    = floor((h + 2^(r-1) - [h < 0]) / 2^r)  (ties away from 0)
 *   floor((floor(Q / a) + c) / b) = floor((Q + c*a) / (a*b)) for integers Q,
 *   c and a, b > 0, so with a = 2^31, b = 2^r:
 *   result + zp = floor((x*m + C - [x < 0] * 2^31) / 2^(31 + r)),
 *   C = 2^30 + 2^(30+r) + zp * 2^(31+r) = 2^30 + (1 + 2 zp) * 2^(30+r).
 * [h < 0] is replaced by [x < 0]: they differ only when -2^30 <= x*m < 0,
 * where h = 0 and both give 0 (r >= 1).  |x*m| < 2^62 and |C| < 2^61 for
 * r <= 22 and |zp| <= 128, or r <= 31 and zp = 0, so the sum cannot
 * overflow: right shifts 23..31 take zp = 0 here (ekopt_rq2_zp) and the
 * caller adds the output offset.  31 + r >= 32: the result is the high
 * word shifted right by r - 1.
 * On DSP cores: AND, ADDS, ADC, SMLAL, ASR per output. */
typedef struct {
    int32_t mult, rs1;   /* multiplier, r - 1 */
    uint32_t clo;        /* C = chi * 2^32 + clo */
    int32_t chi;
} ekopt_rq2;

/* A zero multiplier gives the output offset whatever the shift: it is
 * taken as shift -1 (x * 0 + C, C < 2^32, leaves zp in the high word). */
static inline int ekopt_rq2_ok(int32_t mult, int32_t shift) {
    return mult == 0 || (mult > 0 && shift <= -1 && shift >= -31);
}

/* The output offset ekopt_rq2_make may fold for this shift (zp in
 * [-128, 128]): zp itself for right shifts up to 22, else 0. */
static inline int32_t ekopt_rq2_zp(int32_t shift, int32_t zp) {
    return shift >= -22 ? zp : 0;
}

static inline ekopt_rq2 ekopt_rq2_make(int32_t mult, int32_t shift, int32_t zp) {
    /* C = 2^30 + (1 + 2 zp) * 2^(30+r), r = rs1 + 1: the high word is
     * ((1 + 2 zp) << rs1) >> 1 (arithmetic: zp for r = 1), the low word
     * 2^30, plus 2^31 for r = 1 ((1 + 2 zp) is odd). */
    ekopt_rq2 q;
    q.mult = mult;
    q.rs1 = mult ? -shift - 1 : 0;
    q.clo = 0x40000000u | (0x80000000u << q.rs1);
    q.chi = (int32_t)((uint32_t)(1 + 2 * zp) << q.rs1) >> 1;
    return q;
}

static inline int32_t ekopt_rq2_apply(int32_t x, const ekopt_rq2 *q) {
#if EKOPT_DSP
    uint32_t lo, t;
    int32_t hi;
    __asm__("and    %[t], %[x], #0x80000000\n\t"
            "adds   %[lo], %[clo], %[t]\n\t"
            "adc    %[hi], %[chi], %[x], asr #31\n\t"
            "smlal  %[lo], %[hi], %[x], %[m]\n\t"
            : [lo] "=&r"(lo), [hi] "=&r"(hi), [t] "=&r"(t)
            : [x] "r"(x), [clo] "r"(q->clo), [chi] "r"(q->chi), [m] "r"(q->mult)
            : "cc");
    (void)lo;
    return hi >> q->rs1;
#else
    const int64_t s = (int64_t)q->chi * 4294967296LL + (int64_t)q->clo + (int64_t)x * q->mult
                      - (x < 0 ? 2147483648LL : 0);
    return (int32_t)(s >> 32) >> q->rs1;
#endif
}

#endif /* EK_OPT_REQUANT_H */
