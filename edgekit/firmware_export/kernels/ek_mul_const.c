/* edgekit: MUL of an int8 activation by a constant that repeats along it
 * with period cols (a scalar: cols 1), lowered by ops/mul_const.py.
 *
 * TFLite's int8 MUL requantizes the product of the zero-point-corrected
 * inputs once: MultiplyByQuantizedMultiplier(prod, mult, shift) + zp.  The
 * constant's corrected value is terms[c] (computed at generation time), and
 * with a right shift e >= 1 the requantization is one rounding high product
 * (ek_rq_x2 of 2 * prod: srdhm(v, m) == (2v*m + 2^31) >> 32, and the rounding
 * shift with the zero point folded into add = 2^(e-1) + (zp << e)); the
 * generator checks it on every (input code, constant) pair. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

void ek_mul_const_s8(const ek_mul_const_params *p, const int8_t *in, int8_t *out) {
    const int32_t n = p->rows * p->cols, cols = p->cols;
    const int32_t *const terms = p->terms;
    const int32_t io = p->in_offset, m = p->mult, add = p->add, rsh = p->rsh;
    const int32_t lo = p->act_min, hi = p->act_max;
    int32_t c = 0;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t prod = (in[i] + io) * terms[c];
        const int32_t r = ek_rq_x2(2 * prod, m, add, rsh);
        out[i] = (int8_t)(r < lo ? lo : (r > hi ? hi : r));
        if (++c == cols) c = 0;
    }
}
