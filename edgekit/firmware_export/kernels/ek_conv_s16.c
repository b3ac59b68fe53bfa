/* edgekit: CONV_2D with int16 activations, int8 per-channel weights, int64
 * bias (TFLite 16x8).  Zero points are 0, so padding contributes nothing;
 * grouped convolution as in ek_conv.c. */
#include "ek_kernels.h"

/* TFLite's requantization of a 64-bit accumulator: the Q0.31 multiplier
 * rounded to 16 bits, one rounding right shift by 15 - shift (shift in
 * [-31, 7]). */
static inline int32_t ek_mbqm64(int64_t x, int32_t multiplier, int shift) {
    const int32_t reduced = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int total_shift = 15 - shift;
    const int64_t round = (int64_t)1 << (total_shift - 1);
    return (int32_t)((x * (int64_t)reduced + round) >> total_shift);
}

static inline int32_t ek_clamp_s16(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

void ek_conv2d_s16(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                   const int64_t *bias, int16_t *out) {
    const int32_t groups = p->in_c / p->f_in_c;
    const int32_t out_per_group = p->out_c / groups;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    const int32_t g = oc / out_per_group;
                    const int8_t *f = filter + (int64_t)oc * p->f_h * p->f_w * p->f_in_c;
                    int64_t acc = 0;
                    for (int32_t fy = 0; fy < p->f_h; ++fy) {
                        const int32_t iy = iy0 + p->dil_h * fy;
                        if (iy < 0 || iy >= p->in_h) continue;
                        for (int32_t fx = 0; fx < p->f_w; ++fx) {
                            const int32_t ix = ix0 + p->dil_w * fx;
                            if (ix < 0 || ix >= p->in_w) continue;
                            const int16_t *x = in + (((int64_t)b * p->in_h + iy) * p->in_w + ix)
                                               * p->in_c + g * p->f_in_c;
                            const int8_t *w = f + ((int64_t)fy * p->f_w + fx) * p->f_in_c;
                            for (int32_t ic = 0; ic < p->f_in_c; ++ic) {
                                acc += (int64_t)((int32_t)x[ic] * (int32_t)w[ic]);
                            }
                        }
                    }
                    if (bias) acc += bias[oc];
                    const int32_t r = ek_mbqm64(acc, p->mult[oc], p->shift[oc]);
                    out[(((int64_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                        (int16_t)ek_clamp_s16(r, p->act_min, p->act_max);
                }
            }
        }
    }
}
