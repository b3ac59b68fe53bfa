/* edgekit: SQUARED_DIFFERENCE, int8, with broadcasting over up to 6 dims.
 *
 * Both inputs are brought to a common scale (2 * max(s1, s2), with a left
 * shift of 7 for headroom), subtracted, squared in int32 and requantized to
 * the output scale (TFLite's quantized squared difference).  Uses the
 * ek_add_params block: same index scheme and multipliers. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_broadcast.h"

static inline int8_t ek_sqd_one(const ek_add_params *p, int32_t a, int32_t b) {
    const int32_t sa = ek_mbqm((a + p->in1_offset) * (1 << p->left_shift), p->in1_mult,
                               p->in1_shift);
    const int32_t sb = ek_mbqm((b + p->in2_offset) * (1 << p->left_shift), p->in2_mult,
                               p->in2_shift);
    const int32_t d = sa - sb;
    const int32_t r = ek_mbqm(d * d, p->out_mult, p->out_shift) + p->out_offset;
    return (int8_t)ek_clamp32(r, p->act_min, p->act_max);
}

void ek_squared_difference_s8(const ek_add_params *p, const int8_t *in1, const int8_t *in2,
                              int8_t *out) {
    EK_BCAST_BINARY(p, in1, in2, out, ek_sqd_one);
}
