/*
 * edgekit_audio_harness.h -- the audio harness: raw PCM clips in, the
 * scores of every model run out (see edgekit_audio_harness.c).
 *
 * Shared by the firmware (semihosting, edgekit_harness.c) and the host build
 * (stdio, host_main.c) when compiled with -DEDGEKIT_AUDIO: each main supplies
 * the I/O functions below and calls edgekit_audio_main().
 */
#ifndef EDGEKIT_AUDIO_HARNESS_H
#define EDGEKIT_AUDIO_HARNESS_H

#include <stdint.h>

/* Samples per edgekit_push_audio() call, like a microphone DMA buffer;
 * lowered to RUN_EVERY * STRIDE so that one call makes at most one run. */
#ifndef EDGEKIT_AUDIO_CHUNK
#define EDGEKIT_AUDIO_CHUNK 256u
#endif

/* Read exactly len bytes of the input; 0 on success. */
int edgekit_audio_io_read(void *buf, uint32_t len);
/* Write a NUL-terminated piece of a text line. */
void edgekit_audio_io_write(const char *text);
/* Clock for the instruction counts (the host returns 0). */
uint64_t edgekit_audio_io_now(void);
uint64_t edgekit_audio_io_to_instructions(uint64_t delta);

/*
 * Run every clip of the input (input_bytes bytes): per clip a header of two
 * little-endian uint32, sample rate and number of samples, then the int16
 * samples.  A clip shorter than EDGEKIT_AUDIO_SPAN_SAMPLES is followed by
 * silence up to that length (so that it gets a decision).  Prints, one
 * record per line:
 *
 *   AUDIO <rate> <stride> <window> <channels> <frames> <run_every> <score_bytes> <chunk>
 *         <streaming> <hop> <decision_frame>
 *   FEMEM <state_bytes> <scratch_bytes> <buffer_bytes>   (edgekit_audio.c's buffers)
 *   CLIPS <n>
 *   CLIP <c> <samples> <padded samples>
 *   WIN <c> <hex>                        the model input of the clip's first run
 *                                        (the push that makes it ends there; window models)
 *   FRM <c> <index> <hex>                frame <index> of the clip, for the first
 *                                        <frames> frames (streaming models)
 *   RUN <c> <frames> <hex scores> <model instructions>   frames: the run's input ends
 *                                        with frame <frames> - 1 since the reset
 *   FE <c> <frames> <front-end instructions>
 *
 * Returns 0, or non-zero after an "ERR <message>" line.
 */
int edgekit_audio_main(uint32_t input_bytes);

#endif /* EDGEKIT_AUDIO_HARNESS_H */
