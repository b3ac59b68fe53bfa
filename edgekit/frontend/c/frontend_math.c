/*
 * edgekit audio front end: the per-channel integer nonlinearities (see
 * frontend_internal.h): rounded square root of the filterbank sums, PCAN
 * gain, log.  C99, no state: works on the buffers it is given.
 */
#define EK_FE_TABLES_MATH 1
#include "frontend_internal.h"

static uint32_t msb64(uint64_t x)
{
    uint32_t hi = (uint32_t)(x >> 32);
    return hi ? 32u + msb32(hi) : msb32((uint32_t)x);
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

/* Square root of each channel's sum, then undo the auto-scale. */
void ek_fe_filterbank_sqrt(const uint64_t *sums, uint32_t *chan, uint32_t shift)
{
    uint32_t c;
    for (c = 0; c < NCH; ++c) {
        chan[c] = sqrt64_round(sums[c]) >> shift;
    }
}

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
