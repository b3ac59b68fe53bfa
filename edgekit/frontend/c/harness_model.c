/* The front end as the "model" of edgekit's emulator harness (see model.h). */
#include <string.h>

#include "model.h"

const char *const edgekit_op_names[EDGEKIT_NUM_OPS] = {"FRONTEND"};

static int8_t frames[EK_FRONTEND_MAX_FRAMES(EK_FRONTEND_STRIDE) * EK_FRONTEND_NUM_CHANNELS];

int edgekit_invoke(const void *input, void *output)
{
    size_t n;
    edgekit_profile_begin(0);
    n = ek_frontend_push((const int16_t *)input, EK_FRONTEND_STRIDE, frames,
                         EK_FRONTEND_MAX_FRAMES(EK_FRONTEND_STRIDE));
    edgekit_profile_end(0);
    if (n == EK_FRONTEND_ERROR) {
        return 1;
    }
    if (n == 0) {
        memset(output, -128, EDGEKIT_OUTPUT_BYTES);
    } else {
        memcpy(output, frames + (n - 1) * EK_FRONTEND_NUM_CHANNELS, EDGEKIT_OUTPUT_BYTES);
    }
    return 0;
}

void edgekit_reset(void)
{
    ek_frontend_reset();
}
