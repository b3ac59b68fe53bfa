/*
 * edgekit audio front end: the per-channel integer nonlinearities (see
 * frontend_internal.h): rounded square root of the filterbank sums, PCAN
 * gain, log.  C99, no state: works on the buffers it is given.
 */
#define EK_FE_TABLES_MATH 1
#include "frontend_internal.h"

/* floor(sqrt(t)) for t in [2^30, 2^32): two Newton steps (hardware
 * division on a Cortex-M4) from an overestimate out of a 48-entry table (the
 * top 6 bits of t), then one correction.  (Checked against the definition
 * for every t < 2^32 once, in a form for any t.) */
static EK_INLINE uint32_t isqrt_top(uint32_t t)
{
    uint32_t r = (ek_fe_sqrt_lut[(t >> 26) - 16u] >> 1) + 1u; /* > sqrt(t) */
    r = (r + t / r) >> 1;
    r = (r + t / r) >> 1;
    return r > t / r ? r - 1u : r; /* r * r > t */
}

/*
 * Rounded square root as the reference computes it: floor(sqrt(x)) plus one
 * when the remainder exceeds the root, except at the top of the range (a
 * root of 0xFFFF for x < 2^32, of 0xFFFFFFFF above).
 *
 * The floor: x is shifted left by an even 2k so that its top 32 bits t are
 * >= 2^30, and floor(sqrt(x 4^k)) >> k = floor(sqrt(x)).  Below 2^32 that
 * is isqrt_top(t).  Above, with r0 = isqrt_top(t) (>= 2^15), the root of
 * x 4^k is a + e, a = r0 2^16, 0 <= e < 2^16, and one Newton step from a,
 * a + floor((x 4^k - a^2) / (2a)), is its floor or one more (it overshoots
 * by e^2 / (2a) < 1), corrected at the end; its division is 32-bit, as
 * (x 4^k - a^2) / 2^17 < (r0 + 1/2) 2^16.
 */
static uint32_t sqrt64_round(uint64_t x)
{
    const uint32_t hi = (uint32_t)(x >> 32), lo = (uint32_t)x;
    uint32_t s, r;
    if (hi == 0u) {
        if (lo == 0u) {
            return 0u;
        }
        s = (32u - msb32(lo)) & ~1u; /* 2k */
        r = isqrt_top(lo << s) >> (s / 2u);
        return (lo - r * r > r && r != 0xFFFFu) ? r + 1u : r;
    } else {
        uint32_t top, low, r0, q;
        uint64_t rem;
        s = (32u - msb32(hi)) & ~1u; /* 2k, <= 30 */
        top = (hi << s) | ((lo >> 1) >> (31u - s));
        low = lo << s;
        r0 = isqrt_top(top);
        q = ((top - r0 * r0) << 15) | (low >> 17);
        r = (r0 << 16) + q / r0;
        if (r < (r0 << 16)) {
            r = 0xFFFFFFFFu; /* 2^32 wrapped: the floor is 2^32 - 1 */
        }
        r >>= s / 2u;
        rem = x - (uint64_t)r * r;
        if (rem > x) { /* r * r > x: one too many */
            --r;
            rem = x - (uint64_t)r * r;
        }
        return (rem > r && r != 0xFFFFFFFFu) ? r + 1u : r;
    }
}

/* Square root of each channel's sum, then undo the auto-scale. */
void ek_fe_filterbank_sqrt(const uint64_t *sums, uint32_t *chan, uint32_t shift)
{
    uint32_t c;
    for (c = 0; c < NCH; ++c) {
        chan[c] = sqrt64_round(sums[c]) >> shift;
    }
}

/* x shifted left until its leading one is bit 31 (x != 0), and the shift. */
static EK_INLINE uint32_t normalize(uint32_t x, uint32_t *shift)
{
#if defined(__GNUC__)
    *shift = (uint32_t)__builtin_clz(x);
#else
    *shift = 32u - msb32(x);
#endif
    return x << *shift;
}

#if EK_FE_PCAN
/* Gain of the noise estimate x: per-octave quadratic from the table, at the
 * 10 bits below the leading one (x shifted to 11 bits, low bits dropped). */
static int16_t pcan_gain(uint32_t x)
{
    const int16_t *lut;
    uint32_t z, frac, p;
    int32_t r;
    if (x <= 2) {
        return ek_fe_pcan_lut[x];
    }
    frac = (normalize(x, &z) << 1) >> 22;
    lut = ek_fe_pcan_lut + 4 * (32u - z) - 6; /* octave: msb32(x) = 32 - z */
    r = ((int32_t)lut[2] * (int32_t)frac) >> 5;
    r += (int32_t)lut[1] * 32;
    p = (uint32_t)r * frac;                        /* wraps like the reference */
    r = (int32_t)(p + 16384u) >> 15;
    r += lut[0];
    return (int16_t)r;
}

void ek_fe_pcan(const uint32_t *noise, uint32_t *chan)
{
    uint32_t i;
    for (i = 0; i < NCH; ++i) {
        const uint32_t gain = (uint32_t)(int32_t)pcan_gain(noise[i]);
        const uint32_t snr = (uint32_t)(((uint64_t)chan[i] * gain) >> EK_FE_SNR_SHIFT);
        /* shrink: snr^2 / 4 below 2, snr - 1 above (SNR in Q12, result in Q6) */
        chan[i] = snr < (2u << 12) ? (snr * snr) >> 20 : (snr >> 6) - (1u << 6);
    }
}
#endif

#if EK_FE_LOG
/*
 * round(EK_FE_LOG_SCALE * ln(x)) in fixed point, x >= 2, as the reference:
 * log2(x) in Q16 = integer part (the leading one's position) and the 16
 * bits below the leading one (shifted up, or low bits dropped) corrected by
 * the interpolated table, then times ln(2) in Q16 and the scale, each
 * rounded.  The product by ln(2) is split at the binary point: its integer
 * part is exact, and LN2_Q16 (45426) times the fraction (< 71,200: 65,535
 * plus a table value) fits 32 bits.
 */
static uint32_t log_scaled(uint32_t x)
{
    uint32_t z, frac, seg, f, loge;
    int32_t c0, c1;
    frac = (normalize(x, &z) << 1) >> 16;
    seg = frac >> 9;
    c0 = ek_fe_log_lut[seg];
    c1 = ek_fe_log_lut[seg + 1];
    f = (uint32_t)((int32_t)frac + c0 + (((c1 - c0) * (int32_t)(frac & 511u)) >> 16));
    loge = (uint32_t)EK_FE_LN2_Q16 * (31u - z) + (((uint32_t)EK_FE_LN2_Q16 * f + 32768u) >> 16);
    return ((uint32_t)EK_FE_LOG_SCALE * loge + 32768u) >> 16;
}

void ek_fe_log_channels(uint32_t *chan)
{
    uint32_t i;
    for (i = 0; i < NCH; ++i) {
        const uint32_t scaled = chan[i] << EK_FE_CORRECTION_BITS;
        chan[i] = scaled > 1 ? log_scaled(scaled) : 0u;
    }
}
#endif

#if defined(EK_FRONTEND_TEST_HOOKS)
/* For the tests only (tests/frontend): the rounded square root. */
uint32_t ek_frontend_test_sqrt(uint64_t x);
uint32_t ek_frontend_test_sqrt(uint64_t x)
{
    return sqrt64_round(x);
}
#endif
