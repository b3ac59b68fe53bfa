/* edgekit: in-place-safe reference CONV_2D 1x1 and DEPTHWISE_CONV_2D.
 *
 * The generated code may give these kernels an output that starts at the
 * address of their input (the planner's in-place rule, when the input dies
 * with the op and the output is no larger).  Each output block is first
 * computed into `scratch` by the reference loops (ek_conv_ref.h,
 * ek_depthwise_conv_ref.h, so the results are theirs bit for bit), then
 * copied to its place once no later output block reads the input bytes it
 * covers.  They are also correct when out and in are apart. */
#include <string.h>

#include "ek_kernels.h"
#include "ek_conv_ref.h"
#include "ek_depthwise_conv_ref.h"

/* 1x1, no padding, out_c <= in_c: output pixel i lies below input pixel
 * i + 1 (and, with strides, below every input pixel read later), so it may
 * be written as soon as it is computed.  scratch: out_c bytes. */
void ek_conv2d_1x1_inplace_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                              const int32_t *bias, int8_t *out, int8_t *scratch) {
    ek_conv_params px = *p;
    px.batches = px.in_h = px.in_w = px.out_h = px.out_w = 1;
    px.pad_h = px.pad_w = 0;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int64_t i = ((int64_t)b * p->out_h + oy) * p->out_w + ox;
                const int64_t j = ((int64_t)b * p->in_h + (int64_t)oy * p->stride_h) * p->in_w
                                  + (int64_t)ox * p->stride_w;
                ek_conv_reference(&px, in + j * p->in_c, filter, bias, scratch);
                memcpy(out + i * p->out_c, scratch, (size_t)p->out_c);
            }
        }
    }
}

/* Multiplier 1, stride 1, out_h == in_h, out_w == in_w: output row y covers
 * input row y, which output rows up to y + pad_h read.  Row y is computed
 * into slot y % (pad_h + 1) of the ring and written out once row y + pad_h
 * is computed.  scratch: (pad_h + 1) * out_w * out_c bytes. */
void ek_depthwise_conv2d_inplace_s8(const ek_conv_params *p, const int8_t *in,
                                    const int8_t *filter, const int32_t *bias, int8_t *out,
                                    int8_t *scratch) {
    const int32_t ring = (p->pad_h > 0 ? p->pad_h : 0) + 1;
    const int64_t row = (int64_t)p->out_w * p->out_c;
    ek_conv_params r = *p;
    r.batches = 1;
    r.out_h = 1;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = in + (int64_t)b * p->in_h * p->in_w * p->in_c;
        int8_t *out_b = out + (int64_t)b * p->out_h * row;
        for (int32_t y = 0; y < p->out_h + ring - 1; ++y) {
            if (y < p->out_h) {
                /* Row y alone: the input rows it reads start at y - pad_h. */
                r.pad_h = p->pad_h - y * p->stride_h;
                ek_depthwise_conv_reference(&r, in_b, filter, bias, scratch + (y % ring) * row);
            }
            const int32_t done = y - (ring - 1);
            if (done >= 0) {
                memcpy(out_b + done * row, scratch + (done % ring) * row, (size_t)row);
            }
        }
    }
}
