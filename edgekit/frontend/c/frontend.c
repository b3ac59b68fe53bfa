/*
 * edgekit audio front end (see frontend.h).  C99, static memory only.
 *
 * This file holds the state, the streaming push and the per-frame chain,
 * with the stages that read or update the state: filterbank, noise
 * reduction, int8 output.  The window and FFT are in frontend_fft.c, the
 * square root, PCAN gain and log in frontend_math.c (frontend_internal.h).
 */
#define EK_FE_TABLES_FILTERBANK 1
#include "frontend_internal.h"

#include <string.h>

/* Profiling hooks: empty unless a measurement firmware compiles with
 * -DEK_FRONTEND_PROFILE and supplies "frontend_profile.h", which defines
 * EK_FRONTEND_PROFILE_BEGIN/END(stage) (stage: EK_FRONTEND_STAGE_*). */
#if defined(EK_FRONTEND_PROFILE)
#include "frontend_profile.h"
#else
#define EK_FRONTEND_PROFILE_BEGIN(stage) ((void)0)
#define EK_FRONTEND_PROFILE_END(stage) ((void)0)
#endif

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

/* acc += a * b (64-bit accumulator, 32 x 32 bits): with the DSP extension one
 * UMLAL on the accumulator's halves (GCC otherwise reassociates the
 * unrolled sums into more registers than the core has). */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#define EK_UMLAL(acc_lo, acc_hi, a, b) \
    __asm__("umlal %0, %1, %2, %3" : "+r"(acc_lo), "+r"(acc_hi) : "r"(a), "r"(b))
#else
#define EK_UMLAL(acc_lo, acc_hi, a, b)                                                     \
    do {                                                                                   \
        const uint64_t s_ = (((uint64_t)(acc_hi) << 32) | (acc_lo)) + (uint64_t)(a) * (b); \
        (acc_lo) = (uint32_t)s_;                                                           \
        (acc_hi) = (uint32_t)(s_ >> 32);                                                   \
    } while (0)
#endif

/* Bin k of a channel's run: its weighted energy into a, its unweighted (for
 * the next channel) into b. */
#define EK_FB_BIN(k)                                          \
    do {                                                      \
        const uint32_t e_ = e[k];                             \
        EK_UMLAL(a_lo, a_hi, (uint32_t)w[k], e_);             \
        EK_UMLAL(b_lo, b_hi, (uint32_t)u[k], e_);             \
    } while (0)

/* One channel's run of n bins from e, weights from *wp, unweights from *up
 * (which move on).  Up to 16 bins are a jump into an unrolled sequence (the
 * bins from the last down to the first: the sums are exact); longer runs
 * loop over their first bins. */
static EK_INLINE void filterbank_run(const ek_pair *e, uint32_t n, const int16_t **wp,
                                     const int16_t **up, uint32_t *a, uint32_t *b)
{
    const int16_t *w = *wp, *u = *up;
    uint32_t a_lo = a[0], a_hi = a[1], b_lo = b[0], b_hi = b[1];
    for (; n > 16u; --n, ++e, ++w, ++u) {
        EK_FB_BIN(0);
    }
    switch (n) {
    case 16: EK_FB_BIN(15); /* fall through */
    case 15: EK_FB_BIN(14); /* fall through */
    case 14: EK_FB_BIN(13); /* fall through */
    case 13: EK_FB_BIN(12); /* fall through */
    case 12: EK_FB_BIN(11); /* fall through */
    case 11: EK_FB_BIN(10); /* fall through */
    case 10: EK_FB_BIN(9); /* fall through */
    case 9: EK_FB_BIN(8); /* fall through */
    case 8: EK_FB_BIN(7); /* fall through */
    case 7: EK_FB_BIN(6); /* fall through */
    case 6: EK_FB_BIN(5); /* fall through */
    case 5: EK_FB_BIN(4); /* fall through */
    case 4: EK_FB_BIN(3); /* fall through */
    case 3: EK_FB_BIN(2); /* fall through */
    case 2: EK_FB_BIN(1); /* fall through */
    case 1: EK_FB_BIN(0); /* fall through */
    default: break;
    }
    a[0] = a_lo;
    a[1] = a_hi;
    b[0] = b_lo;
    b[1] = b_hi;
    *wp = w + n;
    *up = u + n;
}

/* Mel filterbank on the energies (64-bit sums, one per channel): channel
 * c - 1 sums the unweighted energies of run c - 1 and the weighted ones of
 * run c.  Two accumulators take turns (no copies between runs). */
static EK_NOINLINE void filterbank(void)
{
    const int16_t *w = ek_fe_fb_weights;
    const int16_t *u = ek_fe_fb_unweights;
    uint32_t x[2] = {0, 0}, y[2] = {0, 0};
    uint32_t c;
    for (c = 0; c < NCH + 1; c += 2) {
        /* run c: weighted into x (which holds run c - 1's unweighted), unweighted into y */
        filterbank_run(scratch.fft + ek_fe_fb_first_bin[c], (uint32_t)ek_fe_fb_counts[c], &w, &u,
                       x, y);
        if (c > 0) {
            scratch.sums[c - 1] = ((uint64_t)x[1] << 32) | x[0];
        }
        x[0] = 0;
        x[1] = 0;
        if (c + 1 < NCH + 1) { /* run c + 1: the roles swapped */
            filterbank_run(scratch.fft + ek_fe_fb_first_bin[c + 1],
                           (uint32_t)ek_fe_fb_counts[c + 1], &w, &u, y, x);
            scratch.sums[c] = ((uint64_t)y[1] << 32) | y[0];
            y[0] = 0;
            y[1] = 0;
        }
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

static void quantize(int8_t *out)
{
    uint32_t i;
    for (i = 0; i < NCH; ++i) {
        uint32_t v = scratch.chan[i];
#if EK_FE_OUTPUT_LUT_SIZE > 0
        /* the table up to the first value that saturates (monotone) */
        out[i] = ek_fe_output_lut[v < EK_FE_OUTPUT_LUT_SIZE - 1u ? v : EK_FE_OUTPUT_LUT_SIZE - 1u];
#else
        int32_t q;
        if (v > INT16_MAX) {
            v = INT16_MAX;
        }
        q = ((int32_t)v * EK_FE_OUTPUT_MULTIPLIER + EK_FE_OUTPUT_DIVISOR / 2) / EK_FE_OUTPUT_DIVISOR +
            EK_FE_OUTPUT_ZERO_POINT;
        out[i] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
#endif
    }
}

static void compute_frame(int8_t *out)
{
    uint32_t scale;
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_WINDOW);
    scale = ek_fe_window_and_scale(state.samples, scratch.fft);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_WINDOW);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_FFT);
    ek_fe_complex_fft(scratch.fft, scale);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_FFT);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_ENERGY);
    ek_fe_real_spectrum_energy(scratch.fft);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_ENERGY);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_FILTERBANK);
    filterbank();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_FILTERBANK);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_SQRT);
    ek_fe_filterbank_sqrt(scratch.sums, scratch.chan, scale & EK_FE_SHIFT_MASK);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_SQRT);
#if EK_FE_NOISE_REDUCTION
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_SPECTRAL_SUBTRACTION);
    noise_reduction();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_SPECTRAL_SUBTRACTION);
#endif
#if EK_FE_PCAN
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_PCAN);
    ek_fe_pcan(state.noise, scratch.chan);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_PCAN);
#endif
#if EK_FE_LOG
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_LOG);
    ek_fe_log_channels(scratch.chan);
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
