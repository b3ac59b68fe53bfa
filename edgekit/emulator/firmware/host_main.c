/*
 * host_main.c -- run a generated edgekit model natively on the build host.
 *
 *   ./model_host inputs.bin outputs.bin
 *
 * inputs.bin holds N cases of EDGEKIT_INPUT_BYTES each (a case: every data
 * input's bytes, concatenated in the model's order); outputs.bin receives N
 * outputs of EDGEKIT_OUTPUT_BYTES each (every data output's), concatenated.  edgekit_reset() is
 * called once before the first case (the cases form one stream, as in the
 * firmware harness); built with -DEDGEKIT_RESET_EVERY=K (K > 0), also before
 * every K-th case (streams of K calls).  Exit status: 0 on success,
 * non-zero on any error.
 *
 * Built with -DEDGEKIT_HOST_PUSH_FRAMES, each case is one feature frame
 * (EDGEKIT_FRAME_BYTES) fed to edgekit_push_frame(), and after each frame the
 * latest output is written (zeros before the first full hop).
 *
 * Built with -DEDGEKIT_AUDIO (a model with edgekit_audio.c), inputs.bin holds
 * raw PCM clips and the second file receives the text records of
 * edgekit_audio_main() (edgekit_audio_harness.c), then "STACK 0" and "DONE".
 */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

#if defined(EDGEKIT_AUDIO)
#include "edgekit_audio_harness.h"

static FILE *audio_in;
static FILE *audio_out;

int edgekit_audio_io_read(void *buf, uint32_t len)
{
    return fread(buf, 1, len, audio_in) == (size_t)len ? 0 : 1;
}

void edgekit_audio_io_write(const char *text)
{
    fputs(text, audio_out);
}

uint64_t edgekit_audio_io_now(void)
{
    return 0u;
}

uint64_t edgekit_audio_io_to_instructions(uint64_t delta)
{
    return delta;
}

int main(int argc, char **argv)
{
    long length;
    int status;

    if (argc != 3) {
        fprintf(stderr, "usage: %s clips.bin records.txt\n", argv[0]);
        return 2;
    }
    audio_in = fopen(argv[1], "rb");
    if (audio_in == NULL) {
        fprintf(stderr, "error: cannot open %s\n", argv[1]);
        return 3;
    }
    if (fseek(audio_in, 0, SEEK_END) != 0 || (length = ftell(audio_in)) < 0
        || fseek(audio_in, 0, SEEK_SET) != 0) {
        fprintf(stderr, "error: cannot get length of %s\n", argv[1]);
        fclose(audio_in);
        return 3;
    }
    audio_out = fopen(argv[2], "w");
    if (audio_out == NULL) {
        fprintf(stderr, "error: cannot create %s\n", argv[2]);
        fclose(audio_in);
        return 3;
    }
    fputs("EDGEKIT 1 host 0\n", audio_out);
    status = edgekit_audio_main((uint32_t)length);
    if (status == 0) {
        fputs("STACK 0\nDONE\n", audio_out);
    }
    fclose(audio_in);
    if (fclose(audio_out) != 0) {
        fprintf(stderr, "error: cannot write %s\n", argv[2]);
        return 7;
    }
    return status;
}
#else

#ifdef EDGEKIT_HOST_PUSH_FRAMES
#define CASE_BYTES EDGEKIT_FRAME_BYTES
#else
#define CASE_BYTES EDGEKIT_INPUT_BYTES
#endif

static unsigned char input_buf[CASE_BYTES] __attribute__((aligned(16)));
static unsigned char output_buf[EDGEKIT_OUTPUT_BYTES] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
    FILE *in;
    FILE *out;
    long length;
    long cases;
    long c;

    if (argc != 3) {
        fprintf(stderr, "usage: %s inputs.bin outputs.bin\n", argv[0]);
        return 2;
    }
    in = fopen(argv[1], "rb");
    if (in == NULL) {
        fprintf(stderr, "error: cannot open %s\n", argv[1]);
        return 3;
    }
    if (fseek(in, 0, SEEK_END) != 0 || (length = ftell(in)) < 0 || fseek(in, 0, SEEK_SET) != 0) {
        fprintf(stderr, "error: cannot get length of %s\n", argv[1]);
        fclose(in);
        return 3;
    }
    if (length % CASE_BYTES != 0) {
        fprintf(stderr, "error: %s has %ld bytes, not a multiple of %d\n", argv[1], length,
                (int)CASE_BYTES);
        fclose(in);
        return 4;
    }
    cases = length / CASE_BYTES;
    out = fopen(argv[2], "wb");
    if (out == NULL) {
        fprintf(stderr, "error: cannot create %s\n", argv[2]);
        fclose(in);
        return 3;
    }
    edgekit_reset();
    for (c = 0; c < cases; c++) {
        int status;
        if (fread(input_buf, 1, CASE_BYTES, in) != (size_t)CASE_BYTES) {
            fprintf(stderr, "error: short read on case %ld\n", c);
            fclose(in);
            fclose(out);
            return 5;
        }
#if defined(EDGEKIT_RESET_EVERY) && EDGEKIT_RESET_EVERY > 0
        if (c > 0 && c % (long)(EDGEKIT_RESET_EVERY) == 0) {
            edgekit_reset();
        }
#endif
#ifdef EDGEKIT_HOST_PUSH_FRAMES
        status = edgekit_push_frame(input_buf, output_buf);
        if (status != 0 && status != 1) {
#else
        status = edgekit_invoke(input_buf, output_buf);
        if (status != 0) {
#endif
            fprintf(stderr, "error: edgekit_invoke returned %d on case %ld\n", status, c);
            fclose(in);
            fclose(out);
            return 6;
        }
        if (fwrite(output_buf, 1, EDGEKIT_OUTPUT_BYTES, out) != (size_t)EDGEKIT_OUTPUT_BYTES) {
            fprintf(stderr, "error: cannot write %s\n", argv[2]);
            fclose(in);
            fclose(out);
            return 7;
        }
    }
    fclose(in);
    if (fclose(out) != 0) {
        fprintf(stderr, "error: cannot write %s\n", argv[2]);
        return 7;
    }
    return 0;
}
#endif /* EDGEKIT_AUDIO */
