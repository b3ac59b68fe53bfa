/* edgekit: FULLY_CONNECTED with int16 activations, int8 weights, int64 bias
 * (TFLite 16x8).  Zero points are 0; the int64 accumulator is requantized
 * with TFLite's 64-bit multiply (16-bit rounded multiplier). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static inline int32_t ek_clamp_s16(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

void ek_fully_connected_s16(const ek_fc_params *p, const int16_t *in, const int8_t *filter,
                            const int64_t *bias, int16_t *out) {
    for (int32_t b = 0; b < p->batches; ++b) {
        const int16_t *x = in + (int64_t)b * p->accum;
        for (int32_t u = 0; u < p->units; ++u) {
            const int8_t *w = filter + (int64_t)u * p->accum;
            int64_t acc = 0;
            for (int32_t k = 0; k < p->accum; ++k) {
                acc += (int64_t)(((int32_t)w[k] + p->filter_offset) * (int32_t)x[k]);
            }
            if (bias) acc += bias[u];
            const int c = p->per_channel ? u : 0;
            const int32_t r = ek_mbqm64(acc, p->mult[c], p->shift[c]);
            out[(int64_t)b * p->units + u] = (int16_t)ek_clamp_s16(r, p->act_min, p->act_max);
        }
    }
}
