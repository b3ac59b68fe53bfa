/* edgekit: int8 ADD of two spike tensors (ops/spike_add.py).  Each input is
 * at one of its two codes, so the sum is one of four int8 values, computed at
 * export time with TFLite's ADD arithmetic.  Four elements per word: a byte of
 * input k is at its on code exactly when its bit b_k (one bit where the two
 * codes differ) equals the on code's, which (v ^ non_k) & b_k (b_k in each
 * byte) marks; shifted to bit 0 (sh_k) and multiplied by 255 it selects whole
 * bytes, and the output word is y00 ^ (m1 & d1) ^ (m2 & d2) ^ (m1 & m2 & d3)
 * (export-time words, the four results in every byte). */
#include <string.h>

#include "ek_kernels.h"

void ek_spike_add_s8(const ek_spike_add_params *p, const int8_t *in1, const int8_t *in2,
                     int8_t *out) {
    const uint32_t non1 = (uint32_t)p->non1, b1 = (uint32_t)p->b1;
    const uint32_t non2 = (uint32_t)p->non2, b2 = (uint32_t)p->b2;
    const int32_t sh1 = p->sh1, sh2 = p->sh2;
    const uint32_t y00 = (uint32_t)p->y00, d1 = (uint32_t)p->d1, d2 = (uint32_t)p->d2;
    const uint32_t d3 = (uint32_t)p->d3;
    for (int32_t i = 0; i < p->size; i += 4) {
        uint32_t v1, v2;
        memcpy(&v1, in1 + i, 4);
        memcpy(&v2, in2 + i, 4);
        uint32_t m1 = ((v1 ^ non1) & b1) >> sh1, m2 = ((v2 ^ non2) & b2) >> sh2;
        m1 = (m1 << 8) - m1;
        m2 = (m2 << 8) - m2;
        const uint32_t y = y00 ^ (m1 & d1) ^ (m2 & d2) ^ (m1 & m2 & d3);
        memcpy(out + i, &y, 4);
    }
}
