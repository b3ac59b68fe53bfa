/* edgekit: ADD / SUB with int16 activations (TFLite 16x8, general scales:
 * pot_scale_int16 = false).  Same arithmetic as the int8 ADD with 15 bits of
 * headroom instead of 20 and an int16 clamp; ek_add_params index scheme. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_broadcast.h"

static inline int16_t ek_add16_one(const ek_add_params *p, int32_t a, int32_t b) {
    const int32_t sa = ek_mbqm((a + p->in1_offset) * (1 << p->left_shift), p->in1_mult,
                               p->in1_shift);
    const int32_t sb = ek_mbqm((b + p->in2_offset) * (1 << p->left_shift), p->in2_mult,
                               p->in2_shift);
    const int32_t r = ek_mbqm(sa + sb, p->out_mult, p->out_shift) + p->out_offset;
    return (int16_t)ek_clamp32(r, p->act_min, p->act_max);
}

void ek_add_s16(const ek_add_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) {
    EK_BCAST_BINARY(p, in1, in2, out, ek_add16_one);
}
