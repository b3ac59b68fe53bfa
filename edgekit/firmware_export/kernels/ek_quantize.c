/* edgekit: QUANTIZE (requantization int8/uint8/int16 -> int8/uint8/int16,
 * float32 -> int8/int16) and DEQUANTIZE (int8/int16 -> float32).
 *
 * Requantization: (x - in_zp) * in_s / out_s with a Q0.31 multiplier and
 * shift, plus out_zp, clamped.  float -> int8: round(x / scale) (float
 * division, ties away from zero) + zp, clamped.  int8/int16 -> float:
 * scale * (x - zp), a float product: the exact product of a 24-bit
 * significand and a 17-bit integer at most, rounded once, the same value TFLite gets
 * by multiplying in double and narrowing to float. */
#include <string.h>

#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static float ek_q_bits_to_float(int32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void ek_requantize_s8(const ek_requantize_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t r = ek_mbqm((int32_t)in[i] - p->in_zp, p->mult, p->shift) + p->out_zp;
        out[i] = (int8_t)ek_clamp32(r, -128, 127);
    }
}

/* Requantization between int8, uint8 and int16 (TFLM's Requantize: the
 * same arithmetic, clamped to the output type; uint8 <-> int8 with equal
 * scales and zero points 128 apart is the identity plus 128, which this
 * gives too). */
#define EK_REQUANTIZE(NAME, TIN, TOUT, LO, HI)                                             \
    void NAME(const ek_requantize_params *p, const TIN *in, TOUT *out) {                   \
        for (int32_t i = 0; i < p->size; ++i) {                                            \
            const int32_t r = ek_mbqm((int32_t)in[i] - p->in_zp, p->mult, p->shift)        \
                              + p->out_zp;                                                 \
            out[i] = (TOUT)ek_clamp32(r, LO, HI);                                          \
        }                                                                                  \
    }

EK_REQUANTIZE(ek_requantize_s16_s8, int16_t, int8_t, -128, 127)
EK_REQUANTIZE(ek_requantize_s8_s16, int8_t, int16_t, -32768, 32767)
EK_REQUANTIZE(ek_requantize_s16_s16, int16_t, int16_t, -32768, 32767)
EK_REQUANTIZE(ek_requantize_u8_s8, uint8_t, int8_t, -128, 127)
EK_REQUANTIZE(ek_requantize_s8_u8, int8_t, uint8_t, 0, 255)

/* round(v), halves away from zero, for |v| < 2^30. */
static int32_t ek_q_round(float v) {
    const int32_t t = (int32_t)v;            /* toward zero */
    const float frac = v - (float)t;         /* exact */
    if (frac >= 0.5f) return t + 1;
    if (frac <= -0.5f) return t - 1;
    return t;
}

void ek_quantize_f32_s8(const ek_fquant_params *p, const float *in, int8_t *out) {
    const float scale = ek_q_bits_to_float(p->scale_bits);
    for (int32_t i = 0; i < p->size; ++i) {
        const float v = in[i] / scale;
        int32_t r;
        if (v >= 1048576.0f) {
            r = 127;
        } else if (v <= -1048576.0f) {
            r = -128;
        } else {
            r = ek_clamp32(ek_q_round(v) + p->zp, -128, 127);
        }
        out[i] = (int8_t)r;
    }
}

void ek_quantize_f32_s16(const ek_fquant_params *p, const float *in, int16_t *out) {
    const float scale = ek_q_bits_to_float(p->scale_bits);
    for (int32_t i = 0; i < p->size; ++i) {
        const float v = in[i] / scale;
        int32_t r;
        if (v >= 1048576.0f) {
            r = 32767;
        } else if (v <= -1048576.0f) {
            r = -32768;
        } else {
            r = ek_clamp32(ek_q_round(v) + p->zp, -32768, 32767);
        }
        out[i] = (int16_t)r;
    }
}

void ek_dequantize_s16_f32(const ek_fquant_params *p, const int16_t *in, float *out) {
    const float scale = ek_q_bits_to_float(p->scale_bits);
    for (int32_t i = 0; i < p->size; ++i) {
        out[i] = scale * (float)((int32_t)in[i] - p->zp);
    }
}

void ek_dequantize_s8_f32(const ek_fquant_params *p, const int8_t *in, float *out) {
    const float scale = ek_q_bits_to_float(p->scale_bits);
    for (int32_t i = 0; i < p->size; ++i) {
        out[i] = scale * (float)((int32_t)in[i] - p->zp);
    }
}
