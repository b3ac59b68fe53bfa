/* edgekit: MUL with int16 activations (TFLite 16x8: zero points 0), with
 * NumPy-style broadcasting over up to 6 dims: the 32-bit product is
 * requantized once by s1 * s2 / s_out, as the int8 MUL. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_broadcast.h"

static inline int16_t ek_mul16_one(const ek_mul_params *p, int32_t a, int32_t b) {
    const int32_t r = ek_mbqm(a * b, p->out_mult, p->out_shift);
    return (int16_t)ek_clamp32(r, p->act_min, p->act_max);
}

void ek_mul_s16(const ek_mul_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) {
    EK_BCAST_BINARY(p, in1, in2, out, ek_mul16_one);
}
