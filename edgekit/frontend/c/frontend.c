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
    shift = ek_fe_window_and_scale(state.samples, scratch.fft);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_WINDOW);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_FFT);
    ek_fe_complex_fft(scratch.fft, shift);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_FFT);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_ENERGY);
    ek_fe_real_spectrum_energy(scratch.fft);
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_ENERGY);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_FILTERBANK);
    filterbank();
    EK_FRONTEND_PROFILE_END(EK_FRONTEND_STAGE_FILTERBANK);
    EK_FRONTEND_PROFILE_BEGIN(EK_FRONTEND_STAGE_SQRT);
    ek_fe_filterbank_sqrt(scratch.sums, scratch.chan, shift);
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
