/* edgekit: reference DEPTHWISE_CONV_2D int8 loop, shared by kernels/ek_depthwise_conv.c and its
 * optimized version (kernels/optimized/ek_depthwise_conv.c, fallback without scratch).
 * (Marked unused: the optimized kernel calls it only when its ek_paths.h
 * lists the fallback.)
 *
 * With a scratch buffer (at least in_h * in_w bytes) each input channel is
 * first copied to it and read from there, so the output may be the input
 * buffer itself (out == in) when depth_multiplier is 1 and the output has no
 * more pixels than the input: output channel c is written only after input
 * channel c has been copied, and it overwrites only channel c. */
#ifndef EK_DEPTHWISE_CONV_REF_H
#define EK_DEPTHWISE_CONV_REF_H

#include "ek_kernels.h"
#include "ek_fixedpoint.h"

/* Output channels ic * m .. ic * m + m - 1 of batch b; input channel ic read
 * at x[(iy * in_w + ix) * xs] (xs: element stride of x). */
static __attribute__((unused)) void ek_depthwise_conv_channel(const ek_conv_params *p, int32_t b, int32_t ic,
                                      const int8_t *x, int32_t xs, const int8_t *filter,
                                      const int32_t *bias, int8_t *out) {
    const int32_t m = p->depth_multiplier;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_w;
            for (int32_t k = 0; k < m; ++k) {
                const int32_t oc = ic * m + k;
                int32_t acc = 0;
                for (int32_t fy = 0; fy < p->f_h; ++fy) {
                    const int32_t iy = iy0 + p->dil_h * fy;
                    if (iy < 0 || iy >= p->in_h) continue;
                    for (int32_t fx = 0; fx < p->f_w; ++fx) {
                        const int32_t ix = ix0 + p->dil_w * fx;
                        if (ix < 0 || ix >= p->in_w) continue;
                        const int32_t v = x[((int64_t)iy * p->in_w + ix) * xs];
                        const int32_t w = filter[((int64_t)fy * p->f_w + fx) * p->out_c + oc];
                        acc += (v + p->in_offset) * w;
                    }
                }
                if (bias) acc += bias[oc];
                acc = ek_mbqm(acc, p->mult[oc], p->shift[oc]) + p->out_offset;
                out[(((int64_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                    (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
            }
        }
    }
}

static __attribute__((unused)) void ek_depthwise_conv_reference(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                                        const int32_t *bias, int8_t *out, int8_t *scratch) {
    const int32_t hw = p->in_h * p->in_w;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t ic = 0; ic < p->in_c; ++ic) {
            const int8_t *x = in + (int64_t)b * hw * p->in_c + ic;
            if (scratch) {
                for (int32_t i = 0; i < hw; ++i) scratch[i] = x[(int64_t)i * p->in_c];
                ek_depthwise_conv_channel(p, b, ic, scratch, 1, filter, bias, out);
            } else {
                ek_depthwise_conv_channel(p, b, ic, x, p->in_c, filter, bias, out);
            }
        }
    }
}

#endif /* EK_DEPTHWISE_CONV_REF_H */
