/* edgekit: RSQRT, int8 -> int8, by table.
 *
 * An int8 input has 256 possible values, so the export computes TFLite's
 * fixed-point result for each (Newton-Raphson inverse square root of the
 * zero-point-corrected input, then the output rescale) and the kernel only
 * looks it up.  The table is 256 int8 values packed four to a word. */
#include "ek_kernels.h"

void ek_rsqrt_s8(const ek_lut_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const uint32_t idx = (uint32_t)((int32_t)in[i] + 128);
        const uint32_t word = (uint32_t)p->lut[idx >> 2];
        out[i] = (int8_t)(uint8_t)(word >> (8u * (idx & 3u)));
    }
}
