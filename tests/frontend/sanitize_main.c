/* Test driver of the front end: int16 PCM on stdin, int8 frames on stdout.
 * Reads in uneven chunks (1, 2, 3, ... 997 samples) to exercise streaming. */
#include <stdio.h>

#include "frontend.h"

int main(void)
{
    static int16_t pcm[1000];
    static int8_t frames[EK_FRONTEND_MAX_FRAMES(1000) * EK_FRONTEND_NUM_CHANNELS];
    size_t chunk = 1;
    ek_frontend_reset();
    for (;;) {
        size_t n = fread(pcm, sizeof(int16_t), chunk, stdin);
        size_t f;
        if (n == 0) {
            break;
        }
        f = ek_frontend_push(pcm, n, frames, EK_FRONTEND_MAX_FRAMES(n));
        if (f == EK_FRONTEND_ERROR) {
            return 3;
        }
        fwrite(frames, EK_FRONTEND_NUM_CHANNELS, f, stdout);
        chunk = chunk % 997 + 1;
    }
    return 0;
}
