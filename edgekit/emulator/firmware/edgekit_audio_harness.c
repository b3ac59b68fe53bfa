/*
 * edgekit_audio_harness.c -- raw PCM in, scores out (see the header).
 *
 * Each clip starts from edgekit_audio_reset() and is pushed in chunks of
 * EDGEKIT_AUDIO_CHUNK samples through edgekit_push_audio(), followed by
 * silence up to EDGEKIT_AUDIO_SPAN_SAMPLES when shorter (as clips are in
 * training); every model run is printed.  Compiled to nothing without
 * -DEDGEKIT_AUDIO.
 */
#include "edgekit_audio_harness.h"

#if defined(EDGEKIT_AUDIO)

#include <stddef.h>

#include "edgekit_audio.h"
#include "frontend.h"

#define EK_AH_RUN_SAMPLES (EDGEKIT_AUDIO_RUN_EVERY * EDGEKIT_AUDIO_STRIDE)
#define EK_AH_CHUNK (EDGEKIT_AUDIO_CHUNK < EK_AH_RUN_SAMPLES ? EDGEKIT_AUDIO_CHUNK : EK_AH_RUN_SAMPLES)

static int16_t ek_ah_pcm[EK_AH_CHUNK] __attribute__((aligned(4)));
static int8_t ek_ah_scores[EDGEKIT_AUDIO_SCORE_BYTES] __attribute__((aligned(4)));
static uint64_t ek_ah_start[2];
static uint64_t ek_ah_total[2];
static uint32_t ek_ah_clip;

void edgekit_audio_profile_begin(int part)
{
    if (part == 0 || part == 1) {
        ek_ah_start[part] = edgekit_audio_io_now();
    }
}

void edgekit_audio_profile_end(int part)
{
    uint64_t now = edgekit_audio_io_now();
    if (part == 0 || part == 1) {
        ek_ah_total[part] += now - ek_ah_start[part];
    }
}

static void ek_ah_putu(uint64_t value)
{
    char digits[24];
    int n = 23;
    digits[n] = '\0';
    do {
        digits[--n] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    edgekit_audio_io_write(digits + n);
}

static void ek_ah_puthex(const int8_t *data, uint32_t len)
{
    static const char hex[] = "0123456789abcdef";
    char pair[3];
    uint32_t i;
    pair[2] = '\0';
    for (i = 0u; i < len; i++) {
        uint8_t b = (uint8_t)data[i];
        pair[0] = hex[b >> 4];
        pair[1] = hex[b & 0x0Fu];
        edgekit_audio_io_write(pair);
    }
}

static void ek_ah_record(const char *tag, uint64_t a)
{
    edgekit_audio_io_write(tag);
    edgekit_audio_io_write(" ");
    ek_ah_putu(a);
}

#if EDGEKIT_AUDIO_STREAMING
/* No window to print: the frames of the clip's first NUM_FRAMES, one record each. */
void edgekit_audio_on_frame(const int8_t *frame, uint32_t index)
{
    if (index < EDGEKIT_AUDIO_NUM_FRAMES) {
        ek_ah_record("FRM", ek_ah_clip);
        ek_ah_record("", index);
        edgekit_audio_io_write(" ");
        ek_ah_puthex(frame, EDGEKIT_AUDIO_NUM_CHANNELS);
        edgekit_audio_io_write("\n");
    }
}
#endif

static int ek_ah_fail(const char *message, int code)
{
    edgekit_audio_io_write("ERR ");
    edgekit_audio_io_write(message);
    edgekit_audio_io_write("\n");
    return code;
}

static uint32_t ek_ah_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

int edgekit_audio_main(uint32_t input_bytes)
{
    uint32_t left = input_bytes;
    uint32_t clip = 0u;

    ek_ah_record("AUDIO", EDGEKIT_AUDIO_SAMPLE_RATE);
    ek_ah_record("", EDGEKIT_AUDIO_STRIDE);
    ek_ah_record("", EDGEKIT_AUDIO_WINDOW_SIZE);
    ek_ah_record("", EDGEKIT_AUDIO_NUM_CHANNELS);
    ek_ah_record("", EDGEKIT_AUDIO_NUM_FRAMES);
    ek_ah_record("", EDGEKIT_AUDIO_RUN_EVERY);
    ek_ah_record("", EDGEKIT_AUDIO_SCORE_BYTES);
    ek_ah_record("", EK_AH_CHUNK);
    ek_ah_record("", EDGEKIT_AUDIO_STREAMING);
    ek_ah_record("", EDGEKIT_AUDIO_HOP);
    ek_ah_record("", EDGEKIT_AUDIO_DECISION_FRAME);
    edgekit_audio_io_write("\n");
    ek_ah_record("FEMEM", ek_frontend_state_bytes());
    ek_ah_record("", ek_frontend_scratch_bytes());
    ek_ah_record("", EDGEKIT_AUDIO_BUFFER_BYTES);
    edgekit_audio_io_write("\n");

    while (left > 0u) {
        uint8_t header[8];
        uint32_t rate;
        uint32_t samples;
        uint32_t total;
        uint32_t done = 0u;
        int first = 1;

        if (left < 8u || edgekit_audio_io_read(header, 8u) != 0) {
            return ek_ah_fail("truncated clip header in the input", 20);
        }
        left -= 8u;
        rate = ek_ah_u32(header);
        samples = ek_ah_u32(header + 4);
        if (rate != EDGEKIT_AUDIO_SAMPLE_RATE) {
            edgekit_audio_io_write("ERR clip sample rate ");
            ek_ah_putu(rate);
            edgekit_audio_io_write(" Hz, the front end takes ");
            ek_ah_putu(EDGEKIT_AUDIO_SAMPLE_RATE);
            edgekit_audio_io_write(" Hz\n");
            return 21;
        }
        if (samples > left / 2u) {
            return ek_ah_fail("clip longer than the input", 22);
        }
        left -= samples * 2u;
        total = samples < EDGEKIT_AUDIO_SPAN_SAMPLES ? EDGEKIT_AUDIO_SPAN_SAMPLES : samples;
        ek_ah_record("CLIP", clip);
        ek_ah_record("", samples);
        ek_ah_record("", total - samples);
        edgekit_audio_io_write("\n");

        ek_ah_clip = clip;
        ek_ah_total[0] = 0u;
        edgekit_audio_reset();
        while (done < total) {
            uint32_t n = total - done;
            uint32_t real;
            int status;
            if (n > EK_AH_CHUNK) {
                n = EK_AH_CHUNK;
            }
            /* End one push exactly at the first run, so that WIN is its input. */
            if (done < EDGEKIT_AUDIO_SPAN_SAMPLES && done + n > EDGEKIT_AUDIO_SPAN_SAMPLES) {
                n = EDGEKIT_AUDIO_SPAN_SAMPLES - done;
            }
            real = done >= samples ? 0u : (samples - done < n ? samples - done : n);
            if (real > 0u && edgekit_audio_io_read(ek_ah_pcm, real * 2u) != 0) {
                return ek_ah_fail("short read of the input", 23);
            }
            for (; real < n; real++) {
                ek_ah_pcm[real] = 0;   /* the silence after a short clip */
            }
            done += n;
            ek_ah_total[1] = 0u;
            status = edgekit_push_audio(ek_ah_pcm, n, ek_ah_scores);
            if (status < 0) {
                return ek_ah_fail("edgekit_push_audio failed", 24);
            }
            if (status == 1) {
#if !EDGEKIT_AUDIO_STREAMING
                if (first) {
                    ek_ah_record("WIN", clip);
                    edgekit_audio_io_write(" ");
                    ek_ah_puthex(edgekit_audio_window(), EDGEKIT_AUDIO_WINDOW_BYTES);
                    edgekit_audio_io_write("\n");
                    first = 0;
                }
#else
                (void)first;
#endif
                ek_ah_record("RUN", clip);
                ek_ah_record("", edgekit_audio_run_frame());
                edgekit_audio_io_write(" ");
                ek_ah_puthex(ek_ah_scores, EDGEKIT_AUDIO_SCORE_BYTES);
                ek_ah_record("", edgekit_audio_io_to_instructions(ek_ah_total[1]));
                edgekit_audio_io_write("\n");
            }
        }
        ek_ah_record("FE", clip);
        ek_ah_record("", edgekit_audio_frame_count());
        ek_ah_record("", edgekit_audio_io_to_instructions(ek_ah_total[0]));
        edgekit_audio_io_write("\n");
        clip++;
    }
    ek_ah_record("CLIPS", clip);
    edgekit_audio_io_write("\n");
    return 0;
}

#else
/* Without EDGEKIT_AUDIO this file is empty (ISO C wants a declaration). */
typedef int edgekit_audio_harness_unused;
#endif
