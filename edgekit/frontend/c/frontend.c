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

typedef struct {
    int16_t r;
    int16_t i;
} ek_cpx;

/* One FFT slot: a complex value, later the energy of the same bin. */
typedef union {
    ek_cpx c;
    uint32_t e;
} ek_slot;

static struct {
    int16_t samples[WIN];
#if EK_FE_NOISE_REDUCTION
    uint32_t noise[NCH];
#endif
    uint32_t fill;
} state;

static struct {
    ek_slot fft[HALF];
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

static int16_t q15_scale(int16_t v, int32_t q15)
{
    return (int16_t)(((int32_t)v * q15 + 16384) >> 15);
}

static ek_cpx cmul(ek_cpx a, const int16_t *w)
{
    ek_cpx m;
    m.r = (int16_t)(((int32_t)a.r * w[0] - (int32_t)a.i * w[1] + 16384) >> 15);
    m.i = (int16_t)(((int32_t)a.r * w[1] + (int32_t)a.i * w[0] + 16384) >> 15);
    return m;
}

static ek_cpx cadd(ek_cpx a, ek_cpx b)
{
    ek_cpx s;
    s.r = (int16_t)(a.r + b.r);
    s.i = (int16_t)(a.i + b.i);
    return s;
}

static ek_cpx csub(ek_cpx a, ek_cpx b)
{
    ek_cpx s;
    s.r = (int16_t)(a.r - b.r);
    s.i = (int16_t)(a.i - b.i);
    return s;
}

static ek_cpx cdiv(ek_cpx a, int32_t q15)
{
    a.r = q15_scale(a.r, q15);
    a.i = q15_scale(a.i, q15);
    return a;
}

/* m radix-4 butterflies on f[k], f[k+m], f[k+2m], f[k+3m]. */
static void butterfly4(ek_slot *f, uint32_t m, uint32_t fstride)
{
    uint32_t k;
    for (k = 0; k < m; ++k) {
        ek_cpx a0 = cdiv(f[k].c, 32767 / 4);
        ek_cpx a1 = cdiv(f[k + m].c, 32767 / 4);
        ek_cpx a2 = cdiv(f[k + 2 * m].c, 32767 / 4);
        ek_cpx a3 = cdiv(f[k + 3 * m].c, 32767 / 4);
        ek_cpx s0 = cmul(a1, ek_fe_twiddles[k * fstride]);
        ek_cpx s1 = cmul(a2, ek_fe_twiddles[2 * k * fstride]);
        ek_cpx s2 = cmul(a3, ek_fe_twiddles[3 * k * fstride]);
        ek_cpx s5 = csub(a0, s1);
        ek_cpx s3, s4;
        a0 = cadd(a0, s1);
        s3 = cadd(s0, s2);
        s4 = csub(s0, s2);
        f[k + 2 * m].c = csub(a0, s3);
        f[k].c = cadd(a0, s3);
        f[k + m].c.r = (int16_t)(s5.r + s4.i);
        f[k + m].c.i = (int16_t)(s5.i - s4.r);
        f[k + 3 * m].c.r = (int16_t)(s5.r - s4.i);
        f[k + 3 * m].c.i = (int16_t)(s5.i + s4.r);
    }
}

/* m radix-2 butterflies on f[k], f[k+m]. */
static void butterfly2(ek_slot *f, uint32_t m, uint32_t fstride)
{
    uint32_t k;
    for (k = 0; k < m; ++k) {
        ek_cpx a0 = cdiv(f[k].c, 32767 / 2);
        ek_cpx a1 = cdiv(f[k + m].c, 32767 / 2);
        ek_cpx t = cmul(a1, ek_fe_twiddles[k * fstride]);
        f[k + m].c = csub(a0, t);
        f[k].c = cadd(a0, t);
    }
}

/* Window the buffered samples into the FFT buffer (digit-reversed order,
 * zero padded), auto-scale them, and return the scale shift. */
static uint32_t window_and_scale(void)
{
    int16_t peak = 0;
    uint32_t c, shift;
    for (c = 0; c < HALF; ++c) {
        int16_t v[2];
        uint32_t j;
        for (j = 0; j < 2; ++j) {
            uint32_t n = 2 * c + j;
            int32_t x = 0;
            if (n < WIN) {
                x = ((int32_t)state.samples[n] * ek_fe_window[n]) >> EK_FE_WINDOW_BITS;
                if (x > INT16_MAX) {
                    x = INT16_MAX;
                } else if (x < INT16_MIN) {
                    x = INT16_MIN;
                }
                /* running max |x|, kept in int16 like the reference (so
                 * -32768 reads as -32768, and later samples may replace it) */
                if (x > peak) {
                    peak = (int16_t)x;
                } else if (-x > peak) {
                    peak = (int16_t)(-x);
                }
            }
            v[j] = (int16_t)x;
        }
        scratch.fft[ek_fe_position[c]].c.r = v[0];
        scratch.fft[ek_fe_position[c]].c.i = v[1];
    }
    {
        /* headroom of the peak; a zero peak counts as 32 bits used (no
         * scaling), as in the reference, whose running max can end at 0
         * when a window holds -32768 (e.g. a negative full-scale DC) */
        const uint32_t used = peak != 0 ? msb32((uint32_t)(int32_t)peak) : 32u;
        shift = used < 15u ? 15u - used : 0u;
    }
    if (shift > 0) {
        int32_t mul = (int32_t)1 << shift;
        for (c = 0; c < HALF; ++c) {
            scratch.fft[c].c.r = (int16_t)(scratch.fft[c].c.r * mul);
            scratch.fft[c].c.i = (int16_t)(scratch.fft[c].c.i * mul);
        }
    }
    return shift;
}

static void complex_fft(void)
{
    uint32_t s;
    for (s = 0; s < EK_FE_FFT_STAGES; ++s) {
        const uint32_t p = ek_fe_fft_stages[s][0];
        const uint32_t m = ek_fe_fft_stages[s][1];
        const uint32_t fstride = ek_fe_fft_stages[s][2];
        uint32_t g;
        for (g = 0; g < HALF; g += p * m) {
            if (p == 4) {
                butterfly4(scratch.fft + g, m, fstride);
            } else {
                butterfly2(scratch.fft + g, m, fstride);
            }
        }
    }
}

/* x / 2 rounded towards minus infinity (an arithmetic shift). */
static int16_t half_of(int32_t x)
{
    return (int16_t)(x >> 1);
}

static uint32_t energy(int16_t r, int16_t i)
{
    return (uint32_t)((int32_t)r * r) + (uint32_t)((int32_t)i * i);
}

/* Split the complex FFT into the real FFT's bins and replace each slot by
 * the energy of its bin, zero outside [ENERGY_START, ENERGY_END). */
static void real_spectrum_energy(void)
{
    uint32_t k;
    for (k = 1; k <= HALF / 2; ++k) {
        ek_cpx fpk = cdiv(scratch.fft[k].c, 32767 / 2);
        ek_cpx fpnk;
        ek_cpx f1k, f2k, tw;
        int16_t xr, xi, yr, yi;
        fpnk.r = scratch.fft[HALF - k].c.r;
        fpnk.i = (int16_t)(-scratch.fft[HALF - k].c.i);
        fpnk = cdiv(fpnk, 32767 / 2);
        f1k = cadd(fpk, fpnk);
        f2k = csub(fpk, fpnk);
        tw = cmul(f2k, ek_fe_super_twiddles[k]);
        xr = half_of(f1k.r + tw.r);
        xi = half_of(f1k.i + tw.i);
        yr = half_of(f1k.r - tw.r);
        yi = half_of(tw.i - f1k.i);
        scratch.fft[k].e =
            (k >= EK_FE_ENERGY_START && k < EK_FE_ENERGY_END) ? energy(xr, xi) : 0u;
        scratch.fft[HALF - k].e = (HALF - k >= EK_FE_ENERGY_START && HALF - k < EK_FE_ENERGY_END)
                                      ? energy(yr, yi)
                                      : 0u;
    }
    scratch.fft[0].e = 0u; /* DC: never inside the band */
}

/* Rounded square root as the reference computes it: floor(sqrt(x)) plus one
 * when the remainder exceeds the root, except at the top of the range. */
static uint32_t sqrt32_round(uint32_t x)
{
    uint32_t res = 0, bit;
    if (x == 0) {
        return 0;
    }
    bit = (uint32_t)1 << ((msb32(x) - 1) & ~1u);
    while (bit) {
        if (x >= res + bit) {
            x -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (x > res && res != 0xFFFFu) {
        ++res;
    }
    return res;
}

static uint32_t sqrt64_round(uint64_t x)
{
    uint64_t res = 0, bit;
    if ((x >> 32) == 0) {
        return sqrt32_round((uint32_t)x);
    }
    bit = (uint64_t)1 << ((msb64(x) - 1) & ~1u);
    while (bit) {
        if (x >= res + bit) {
            x -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (x > res && res != 0xFFFFFFFFu) {
        ++res;
    }
    return (uint32_t)res;
}

/* Mel filterbank on the energies (64-bit sums, one per channel). */
static void filterbank(void)
{
    uint64_t acc = 0, unacc = 0;
    uint32_t c;
    for (c = 0; c < NCH + 1; ++c) {
        const ek_slot *e = scratch.fft + ek_fe_fb_freq_starts[c];
        const int16_t *w = ek_fe_fb_weights + ek_fe_fb_weight_starts[c];
        const int16_t *u = ek_fe_fb_unweights + ek_fe_fb_weight_starts[c];
        int32_t j;
        for (j = 0; j < ek_fe_fb_widths[c]; ++j) {
            acc += (uint64_t)(uint32_t)w[j] * e[j].e;
            unacc += (uint64_t)(uint32_t)u[j] * e[j].e;
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
static void noise_reduction(void)
{
    uint32_t i;
    for (i = 0; i < NCH; ++i) {
        const uint32_t smooth = (i & 1u) ? EK_FE_ODD_SMOOTHING : EK_FE_EVEN_SMOOTHING;
        const uint32_t keep = (i & 1u) ? EK_FE_ODD_ONE_MINUS_SMOOTHING : EK_FE_EVEN_ONE_MINUS_SMOOTHING;
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
    complex_fft();
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
