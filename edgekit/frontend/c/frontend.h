/*
 * edgekit audio front end: causal, streaming, fixed point (C99, no malloc).
 *
 * int16 PCM in, int8 feature frames out.  Every EK_FRONTEND_STRIDE samples
 * (once the first EK_FRONTEND_WINDOW_SIZE samples have arrived) one frame of
 * EK_FRONTEND_NUM_CHANNELS int8 features is produced from the last window:
 *
 *   Hann window -> FFT auto-scale -> real FFT (fixed point, radix 4/2)
 *   -> power spectrum -> mel filterbank -> square root -> noise reduction
 *   (spectral subtraction) -> PCAN gain control -> log -> int8
 *
 * The parameters (sample rate, window, stride, FFT size, channels...) are the
 * macros of the generated "frontend_config.h"; the tables are in the
 * generated "frontend_tables.h" (private to the front end's C files:
 * frontend.c, frontend_fft.c and frontend_math.c, compiled together).
 *
 * All state is static (one front end per program): the last window of
 * samples and the per-channel noise estimate.  Not reentrant.
 *
 * Latency: the first frame comes after EK_FRONTEND_WINDOW_SIZE samples, then
 * one every EK_FRONTEND_STRIDE samples; frame f covers samples
 * [f * STRIDE, f * STRIDE + WINDOW_SIZE) of the stream since the last reset.
 */
#ifndef EK_FRONTEND_H
#define EK_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "frontend_config.h"

/* Returned by ek_frontend_push when an argument is invalid (nothing consumed). */
#define EK_FRONTEND_ERROR ((size_t)-1)

/* Frames that pushing n samples can produce at most: size `frames` with
 * EK_FRONTEND_MAX_FRAMES(n) * EK_FRONTEND_NUM_CHANNELS bytes. */
#define EK_FRONTEND_MAX_FRAMES(n) ((size_t)(n) / EK_FRONTEND_STRIDE + 1u)

/* The stages a profiling build reports (see EK_FRONTEND_PROFILE in frontend.c). */
#define EK_FRONTEND_STAGE_WINDOW 0
#define EK_FRONTEND_STAGE_FFT 1
#define EK_FRONTEND_STAGE_ENERGY 2
#define EK_FRONTEND_STAGE_FILTERBANK 3
#define EK_FRONTEND_STAGE_SQRT 4
#define EK_FRONTEND_STAGE_SPECTRAL_SUBTRACTION 5
#define EK_FRONTEND_STAGE_PCAN 6
#define EK_FRONTEND_STAGE_LOG 7
#define EK_FRONTEND_STAGE_OUTPUT 8
#define EK_FRONTEND_NUM_STAGES 9

#ifdef __cplusplus
extern "C" {
#endif

/* Forget the buffered samples and the noise estimate (start of a new stream). */
void ek_frontend_reset(void);

/*
 * Push n samples (any n, any chunking: the result depends only on the
 * concatenated stream).  Writes the frames that became complete to `frames`
 * (frame after frame, EK_FRONTEND_NUM_CHANNELS int8 each) and returns their
 * number.  Returns EK_FRONTEND_ERROR, consuming nothing, if pcm is NULL with
 * n > 0, or if more than max_frames frames would be produced (frames may be
 * NULL only when none are).
 */
size_t ek_frontend_push(const int16_t *pcm, size_t n, int8_t *frames, size_t max_frames);

/* Samples buffered towards the next frame (< EK_FRONTEND_WINDOW_SIZE). */
size_t ek_frontend_buffered(void);

/* Bytes of the static state (kept between calls) and of the static scratch
 * (reused within a frame). */
size_t ek_frontend_state_bytes(void);
size_t ek_frontend_scratch_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* EK_FRONTEND_H */
