/* edgekit: SOFTMAX, int16 in, int16 out (TFLite 16x8 mode: zero points 0,
 * output scale 1/32768).
 *
 * The arithmetic of TFLM's int16 softmax: per row, the difference of each
 * input to the row maximum is rescaled so that [-65535, 0] covers [-10, 0]
 * and exp() of it is read from a 513-entry table by linear interpolation
 * (9 index bits, 7 fraction bits).  The sum of the exps (Q16.15) is
 * normalized to [1, 2), 1/(1 + x) of its fraction is read from a second
 * table, and each exp is scaled by it with one rounding shift.  Both tables
 * are computed at export time (ops/s16.py) exactly as TFLM fills them at
 * Prepare; they hold int16 values two to a word, entry 2k in the low half.
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static inline int32_t ek_lut16_at(const int32_t *lut, uint32_t i) {
    const uint32_t w = (uint32_t)lut[i >> 1];
    return (int32_t)(int16_t)(uint16_t)(w >> (16u * (i & 1u)));
}

/* Table value at v / 128 (v in int16 range), interpolated between entries. */
static inline int16_t ek_lut16_interp(const int32_t *lut, int32_t v) {
    const uint32_t i = (uint32_t)(256 + (v >> 7));
    const int32_t frac = v & 0x7f;
    const int32_t base = ek_lut16_at(lut, i);
    const int32_t slope = (int32_t)(int16_t)(ek_lut16_at(lut, i + 1) - base);
    return (int16_t)(base + ((slope * frac + 64) >> 7));
}

static inline int ek_clz32_s16(uint32_t x) {
    int n = 0;
    if (x == 0) return 32;
    while (!(x & 0x80000000u)) { x <<= 1; ++n; }
    return n;
}

void ek_softmax_s16(const ek_softmax_s16_params *p, const int16_t *in, int16_t *out) {
    const int32_t depth = p->depth;
    for (int32_t r = 0; r < p->outer; ++r) {
        const int16_t *x = in + (int64_t)r * depth;
        int16_t *y = out + (int64_t)r * depth;
        int32_t mx = -32768;
        for (int32_t c = 0; c < depth; ++c) mx = ek_max32(mx, x[c]);
        /* exp(x - max) in Q0.15, kept in the output row; their sum in Q16.15. */
        int32_t sum = 0;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t d = ek_mbqm((int32_t)x[c] - mx, p->input_multiplier,
                                      p->input_left_shift);
            const int16_t e = ek_lut16_interp(p->exp_lut, ek_clamp32(d + 32767, -32768, 32767));
            y[c] = e;
            sum += e;
        }
        /* sum = 2^k * (1 + f), f in [0, 1): 1/(1 + f) from the table, with f
         * as 16 fraction bits recentred to the int16 range. */
        const int hp1 = ek_clz32_s16((uint32_t)sum);
        const int32_t shifted = (int32_t)((((int64_t)sum << (hp1 - 1)) + (1 << 13)) >> 14);
        const int32_t f = ek_clamp32(shifted - ((1 << 15) + (1 << 16)), -32768, 32767);
        const int64_t recip = ek_lut16_interp(p->recip_lut, f);
        const int rs = 31 - hp1;
        const int64_t round = (int64_t)1 << (rs - 1);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t v = (int32_t)(((int64_t)y[c] * recip + round) >> rs);
            y[c] = (int16_t)ek_clamp32(v, 0, 32767);
        }
    }
}
