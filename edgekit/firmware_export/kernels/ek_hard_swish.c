/* edgekit: HARD_SWISH, int8 -> int8: x * relu6(x + 3) / 6.
 *
 * 16-bit fixed point as TFLite's quantized hard-swish computes it: the input
 * (minus its zero point) is put on a "hires" scale (x 2^7); one 16-bit
 * multiplier takes it to the pre-shift output scale, another to a "reluish"
 * value on a scale where 3.0 is 2^15 (saturating), which is mapped to [0, 1]
 * and multiplied (truncating doubling high multiply) with the former; a
 * rounding right shift gives the output scale. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

/* Rounding doubling high multiply of two int16 values (ties away from 0). */
static int16_t ek_hs_srdhm16(int16_t a, int16_t b) {
    if (a == b && a == INT16_MIN) return INT16_MAX;
    const int32_t ab = (int32_t)a * (int32_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* Doubling high multiply of two int16 values, truncating toward zero. */
static int16_t ek_hs_sdhm16(int16_t a, int16_t b) {
    if (a == b && a == INT16_MIN) return INT16_MAX;
    const int32_t ab = (int32_t)a * (int32_t)b;
    return (int16_t)(ab / (1 << 15));
}

static int16_t ek_hs_sat_shl16(int16_t v, int amount) {
    const int32_t r = (int32_t)v * (1 << amount);
    return (int16_t)ek_clamp32(r, INT16_MIN, INT16_MAX);
}

void ek_hard_swish_s8(const ek_hard_swish_params *p, const int8_t *in, int8_t *out) {
    const int16_t out_m = (int16_t)p->out_mult16;
    const int16_t relu_m = (int16_t)p->relu_mult16;
    for (int32_t i = 0; i < p->size; ++i) {
        const int16_t v = (int16_t)((int32_t)in[i] - p->in_zp);
        const int16_t hires = (int16_t)(v * (1 << 7));
        const int16_t pre_out = ek_hs_srdhm16(hires, out_m);
        int16_t relu = hires;
        if (p->relu_shift > 0) relu = ek_hs_sat_shl16(relu, p->relu_shift - 1);
        relu = ek_hs_srdhm16(relu, relu_m);
        if (p->relu_shift > 0) relu = ek_hs_sat_shl16(relu, 1);
        if (p->relu_shift < 0) relu = (int16_t)ek_rdbpot(relu, -p->relu_shift);
        relu = (int16_t)(((int32_t)relu + (1 << 15)) >> 1);
        const int16_t pre = ek_hs_sdhm16(relu, pre_out);
        int16_t o = (int16_t)ek_rdbpot(pre, -p->out_shift);
        o = (int16_t)(o + p->out_zp);        /* wraps like TFLite's int16 sum */
        out[i] = (int8_t)ek_clamp32(o, -128, 127);
    }
}
