/* edgekit: an int8 -> int8 elementwise op by table (ops/const_lut.py: ADD or
 * MUL of a scalar constant).  The table holds the op's output for each of
 * the 256 input codes, four to a little-endian word (ek_rsqrt_s8's layout),
 * read here as bytes: the output of code x is byte x + 128. */
#include "ek_kernels.h"

void ek_lut_s8(const ek_lut_params *p, const int8_t *in, int8_t *out) {
    const int8_t *const table = (const int8_t *)(const void *)p->lut + 128;
    const int32_t n = p->size;
    for (int32_t i = 0; i < n; ++i) out[i] = table[in[i]];
}
