/* edgekit: the reference loop of CONV_2D with int16 activations (TFLite
 * 16x8), shared by kernels/ek_conv_s16.c and its optimized version.  Zero
 * points are 0, so padding contributes nothing; grouped convolution as in
 * ek_conv.c. */
#ifndef EK_CONV_S16_REF_H
#define EK_CONV_S16_REF_H

#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static inline int32_t ek_clamp_s16(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* sum of x[i] * w[i] for i < n (n <= 256: |sum| < 2^31, exact in int32),
 * two products per step. */
static inline int32_t ek_dot_s16(const int16_t *x, const int8_t *w, int32_t n) {
    int32_t s0 = 0, s1 = 0, i = 0;
    for (; i + 1 < n; i += 2) {
        s0 += (int32_t)x[i] * w[i];
        s1 += (int32_t)x[i + 1] * w[i + 1];
    }
    if (i < n) s0 += (int32_t)x[i] * w[i];
    return s0 + s1;
}

/* Taps fx of a filter row inside the input: fx0 <= fx < fx1. */
static inline void ek_tap_range(int32_t ix0, int32_t dil, int32_t f, int32_t in,
                                int32_t *fx0, int32_t *fx1) {
    int32_t a = ix0 < 0 ? (-ix0 + dil - 1) / dil : 0;
    int32_t b = in - ix0 <= 0 ? 0 : (in - ix0 + dil - 1) / dil;
    *fx0 = a < f ? a : f;
    *fx1 = b < f ? b : f;
    if (*fx1 < *fx0) *fx1 = *fx0;
}

/* The int64 accumulator takes int32 partial sums of at most 256 products
 * (each |x * w| <= 2^22): the same exact sum in another order. */
static __attribute__((unused)) void
ek_conv2d_s16_reference(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                        const int64_t *bias, int16_t *out) {
    const int32_t groups = p->in_c / p->f_in_c;
    const int32_t out_per_group = p->out_c / groups;
    const int32_t fic = p->f_in_c;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0, fx1;
                ek_tap_range(ix0, p->dil_w, p->f_w, p->in_w, &fx0, &fx1);
                /* No groups and no column dilation: a filter row's taps
                 * inside the input are one run in the input and the filter. */
                const int run = groups == 1 && p->dil_w == 1;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    const int32_t g = oc / out_per_group;
                    const int8_t *f = filter + (int64_t)oc * p->f_h * p->f_w * fic;
                    int64_t acc = 0;
                    for (int32_t fy = 0; fy < p->f_h; ++fy) {
                        const int32_t iy = iy0 + p->dil_h * fy;
                        if (iy < 0 || iy >= p->in_h) continue;
                        const int16_t *xr = in + ((int64_t)b * p->in_h + iy) * p->in_w * p->in_c
                                            + g * fic;
                        const int8_t *wr = f + (int64_t)fy * p->f_w * fic;
                        if (run) {
                            const int16_t *x = xr + (int64_t)(ix0 + fx0) * p->in_c;
                            const int8_t *w = wr + (int64_t)fx0 * fic;
                            for (int32_t n = (fx1 - fx0) * fic; n > 0; n -= 256, x += 256, w += 256) {
                                acc += ek_dot_s16(x, w, n < 256 ? n : 256);
                            }
                            continue;
                        }
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const int16_t *x = xr + (int64_t)(ix0 + p->dil_w * fx) * p->in_c;
                            const int8_t *w = wr + (int64_t)fx * fic;
                            for (int32_t c = 0; c < fic; c += 256) {
                                acc += ek_dot_s16(x + c, w + c, fic - c < 256 ? fic - c : 256);
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

#endif /* EK_CONV_S16_REF_H */
