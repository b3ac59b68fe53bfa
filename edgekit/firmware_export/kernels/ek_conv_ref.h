/* edgekit: reference CONV_2D int8 loop, shared by kernels/ek_conv.c and its
 * optimized version (kernels/optimized/ek_conv.c, general fallback).
 * The loop is marked unused: the optimized kernel calls it only when its
 * ek_paths.h lists the fallback. */
#ifndef EK_CONV_REF_H
#define EK_CONV_REF_H

#include <stdint.h>
#include <string.h>

#include "ek_kernels.h"
#include "ek_fixedpoint.h"

/* Whether the output bytes overlap the input bytes (an in-place call: the
 * planner gave the output the input's address). */
static inline int ek_conv_overlaps(const ek_conv_params *p, const int8_t *in, const int8_t *out) {
    const uintptr_t a = (uintptr_t)in, b = (uintptr_t)out;
    const uintptr_t na = (uintptr_t)p->batches * p->in_h * p->in_w * p->in_c;
    const uintptr_t nb = (uintptr_t)p->batches * p->out_h * p->out_w * p->out_c;
    return a < b + nb && b < a + na;
}

/* The reference loop; with `pix` (out_c bytes) each output pixel is
 * computed there and copied to its place once all its outputs are known,
 * which makes a 1x1 convolution without padding, stride 1 and
 * out_c <= in_c correct in place (output pixel i lies over input pixels
 * <= i only, all read by then). */
static __attribute__((unused)) void ek_conv_reference_buf(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                                  const int32_t *bias, int8_t *out, int8_t *pix) {
    const int32_t groups = p->in_c / p->f_in_c;
    const int32_t out_per_group = p->out_c / groups;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int8_t *y = out + (((int64_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                int8_t *dst = pix ? pix : y;
                for (int32_t oc = 0; oc < p->out_c; ++oc) {
                    const int32_t g = oc / out_per_group;
                    const int8_t *f = filter + (int64_t)oc * p->f_h * p->f_w * p->f_in_c;
                    int32_t acc = 0;
                    for (int32_t fy = 0; fy < p->f_h; ++fy) {
                        const int32_t iy = iy0 + p->dil_h * fy;
                        if (iy < 0 || iy >= p->in_h) continue;
                        for (int32_t fx = 0; fx < p->f_w; ++fx) {
                            const int32_t ix = ix0 + p->dil_w * fx;
                            if (ix < 0 || ix >= p->in_w) continue;
                            const int8_t *x = in + (((int64_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c
                                              + g * p->f_in_c;
                            const int8_t *w = f + ((int64_t)fy * p->f_w + fx) * p->f_in_c;
                            for (int32_t ic = 0; ic < p->f_in_c; ++ic) {
                                acc += ((int32_t)x[ic] + p->in_offset) * (int32_t)w[ic];
                            }
                        }
                    }
                    if (bias) acc += bias[oc];
                    acc = ek_mbqm(acc, p->mult[oc], p->shift[oc]) + p->out_offset;
                    dst[oc] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
                }
                if (pix) memcpy(y, pix, (size_t)p->out_c);
            }
        }
    }
}

static inline void ek_conv_reference(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                                     const int32_t *bias, int8_t *out) {
    ek_conv_reference_buf(p, in, filter, bias, out, 0);
}

#endif /* EK_CONV_REF_H */
