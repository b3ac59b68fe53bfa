/* edgekit: LEAKY_RELU, int8 and int16 (TFLite 16x8).
 *
 * v = x - in_zp is requantized to the output scale by one of two
 * multipliers (ops/leaky_relu.py): the identity's for v >= 0, the slope's
 * (alpha folded in) below; then the output zero point is added and the
 * result clamped to the type's range.  Element i is read before it is
 * written, so the output may be the input buffer. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static inline int32_t ek_leaky_one(const ek_leaky_relu_params *p, int32_t x) {
    const int32_t v = x - p->in_zp;
    const int32_t r = v >= 0 ? ek_mbqm(v, p->id_mult, p->id_shift)
                             : ek_mbqm(v, p->alpha_mult, p->alpha_shift);
    return r + p->out_zp;
}

void ek_leaky_relu_s8(const ek_leaky_relu_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        out[i] = (int8_t)ek_clamp32(ek_leaky_one(p, in[i]), -128, 127);
    }
}

void ek_leaky_relu_s16(const ek_leaky_relu_params *p, const int16_t *in, int16_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        out[i] = (int16_t)ek_clamp32(ek_leaky_one(p, in[i]), -32768, 32767);
    }
}
