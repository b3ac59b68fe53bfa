/* edgekit: CONCATENATION, int8, inputs already in the output's quantization
 * (so the op is a sequence of block copies).  Up to EK_CONCAT_MAX_INPUTS
 * inputs; unused input pointers are NULL. */
#include <string.h>

#include "ek_kernels.h"

void ek_concat_s8(const ek_concat_params *p, const int8_t *in0, const int8_t *in1,
                  const int8_t *in2, const int8_t *in3, const int8_t *in4, const int8_t *in5,
                  const int8_t *in6, const int8_t *in7, int8_t *out) {
    const int8_t *const ins[EK_CONCAT_MAX_INPUTS] = {in0, in1, in2, in3, in4, in5, in6, in7};
    int8_t *dst = out;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->num_inputs; ++i) {
            const int32_t n = p->block[i];
            memcpy(dst, ins[i] + (int64_t)o * n, (size_t)n);
            dst += n;
        }
    }
}
