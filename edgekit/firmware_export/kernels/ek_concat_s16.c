/* edgekit: CONCATENATION with int16 elements, inputs already in the
 * output's quantization: block copies (block[i] in elements). */
#include <string.h>

#include "ek_kernels.h"

void ek_concat_s16(const ek_concat_params *p, const int16_t *in0, const int16_t *in1,
                   const int16_t *in2, const int16_t *in3, const int16_t *in4, const int16_t *in5,
                   const int16_t *in6, const int16_t *in7, int16_t *out) {
    const int16_t *const ins[EK_CONCAT_MAX_INPUTS] = {in0, in1, in2, in3, in4, in5, in6, in7};
    int16_t *dst = out;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->num_inputs; ++i) {
            const int32_t n = p->block[i];
            memcpy(dst, ins[i] + (int64_t)o * n, (size_t)n * sizeof(int16_t));
            dst += n;
        }
    }
}
