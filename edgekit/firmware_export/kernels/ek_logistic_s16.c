/* edgekit: LOGISTIC and TANH with int16 activations (TFLite 16x8: zero
 * points 0, output scale 2^-15), as TFLM computes them: the input is
 * rescaled by a 15-bit multiplier and a rounding right shift so that 2^17
 * stands for 32/3; |x| then indexes a 256-entry table of sigmoid(k/24) in
 * unsigned Q0.16 (lut: two entries a word, entry 2k in the low half) with
 * linear interpolation on the low 9 (LOGISTIC) or 8 (TANH: tanh(x) =
 * 2 sigmoid(2x) - 1) bits; negative inputs use the symmetry. */
#include "ek_kernels.h"

static inline uint32_t ek_sig16_entry(const int32_t *lut, uint32_t k) {
    return ((uint32_t)lut[k >> 1] >> (16u * (k & 1u))) & 0xFFFFu;
}

static inline int32_t ek_sig16_scale(const ek_lut16_act_params *p, int32_t x) {
    const int32_t round = p->input_left_shift > 0 ? 1 << (p->input_left_shift - 1) : 0;
    return (x * p->input_multiplier + round) >> p->input_left_shift;
}

void ek_logistic_s16(const ek_lut16_act_params *p, const int16_t *in, int16_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = ek_sig16_scale(p, in[i]);
        const uint32_t ax = (uint32_t)(x < 0 ? -x : x);
        const uint32_t k = ax >> 9;
        uint32_t r;
        if (k >= 255u) {
            r = 0x7FFFu << 10;
        } else {
            const uint32_t a = ek_sig16_entry(p->lut, k), b = ek_sig16_entry(p->lut, k + 1u);
            r = (a << 9) + (ax & 0x1FFu) * (b - a);
        }
        r = x >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        out[i] = (int16_t)(r >> 10);
    }
}

void ek_tanh_s16(const ek_lut16_act_params *p, const int16_t *in, int16_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = ek_sig16_scale(p, in[i]);
        const uint32_t ax = (uint32_t)(x < 0 ? -x : x);
        const uint32_t k = ax >> 8;
        int32_t r;
        if (k >= 255u) {
            r = 0xFFFF << 8;
        } else {
            const uint32_t a = ek_sig16_entry(p->lut, k), b = ek_sig16_entry(p->lut, k + 1u);
            r = (int32_t)((a << 8) + (ax & 0xFFu) * (b - a));
        }
        r = x >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        out[i] = (int16_t)(r >> 8);
    }
}
