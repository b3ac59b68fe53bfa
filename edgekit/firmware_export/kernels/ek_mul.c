/* edgekit: MUL, int8, with NumPy-style broadcasting over up to 6 dims.
 * The product of the two zero-point-corrected inputs is requantized once
 * with a multiplier holding s1 * s2 / s_out. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_broadcast.h"

static inline int8_t ek_mul_one(const ek_mul_params *p, int32_t a, int32_t b) {
    const int32_t prod = (a + p->in1_offset) * (b + p->in2_offset);
    const int32_t r = ek_mbqm(prod, p->out_mult, p->out_shift) + p->out_offset;
    return (int8_t)ek_clamp32(r, p->act_min, p->act_max);
}

void ek_mul_s8(const ek_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    EK_BCAST_BINARY(p, in1, in2, out, ek_mul_one);
}
