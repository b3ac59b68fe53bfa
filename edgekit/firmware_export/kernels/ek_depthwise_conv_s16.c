/* edgekit: DEPTHWISE_CONV_2D with int16 activations, int8 per-channel
 * weights 1 x H x W x (C * M), int64 bias (TFLite 16x8).  Zero points are 0,
 * so taps outside the input add nothing; the 64-bit accumulator is
 * requantized as the 16x8 CONV_2D does (ek_conv_s16.c). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

void ek_depthwise_conv2d_s16(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                             const int64_t *bias, int16_t *out) {
    const int32_t m = p->depth_multiplier;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int16_t *o = out + (((int64_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    const int32_t ic = oc / m;
                    int64_t acc = 0;
                    for (int32_t fy = 0; fy < p->f_h; ++fy) {
                        const int32_t iy = iy0 + p->dil_h * fy;
                        if (iy < 0 || iy >= p->in_h) continue;
                        for (int32_t fx = 0; fx < p->f_w; ++fx) {
                            const int32_t ix = ix0 + p->dil_w * fx;
                            if (ix < 0 || ix >= p->in_w) continue;
                            const int32_t x = in[(((int64_t)b * p->in_h + iy) * p->in_w + ix)
                                                 * p->in_c + ic];
                            const int32_t w = filter[((int64_t)fy * p->f_w + fx) * p->out_c + oc];
                            acc += (int64_t)(x * w);
                        }
                    }
                    if (bias) acc += bias[oc];
                    const int32_t r = ek_mbqm64(acc, p->mult[oc], p->shift[oc]);
                    o[oc] = (int16_t)ek_clamp32(r, p->act_min, p->act_max);
                }
            }
        }
    }
}
