/* edgekit: TRANSPOSE_CONV, int8 and int16 (TFLite 16x8).
 *
 * TFLM scatters every input pixel over the output through an output-sized
 * accumulator buffer; these kernels gather instead: output pixel (oy, ox)
 * takes input row iy where oy + pad_h - fy == iy * stride_h (and likewise
 * for columns), the same integer products summed exactly, so the results
 * agree bit for bit without the buffer.  Filters are [out_c, f_h, f_w,
 * in_c].  int8: (x + in_offset) * w summed in int32, bias, per-channel
 * requantization, + out_offset.  int16: x * w summed in int64 (zero points
 * 0), int64 bias, TFLite's 64-bit requantization. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

/* The input row (column) that tap f of output position o reads, or -1. */
static inline int32_t ek_tc_source(int32_t o, int32_t pad, int32_t f, int32_t stride,
                                   int32_t size) {
    const int32_t t = o + pad - f;
    if (t < 0 || t % stride != 0) {
        return -1;
    }
    return t / stride < size ? t / stride : -1;
}

/* The output loops of both kernels: for output pixel (b, oy, ox) and channel
 * oc, ACC (of type ACC_T, from 0) gains x[c] * w[c] terms through MAC over
 * every tap inside the input (XT: the input element type); then STORE(o, oc,
 * acc) writes the result. */
#define EK_TC_GATHER(XT, ACC_T, MAC, STORE)                                             \
    for (int32_t b = 0; b < p->batches; ++b) {                                          \
        for (int32_t oy = 0; oy < p->out_h; ++oy) {                                     \
            for (int32_t ox = 0; ox < p->out_w; ++ox) {                                 \
                const int64_t opix = ((int64_t)b * p->out_h + oy) * p->out_w + ox;      \
                for (int32_t oc = 0; oc < p->out_c; ++oc) {                             \
                    ACC_T acc = 0;                                                      \
                    for (int32_t fy = 0; fy < p->f_h; ++fy) {                           \
                        const int32_t iy = ek_tc_source(oy, p->pad_h, fy, p->stride_h,  \
                                                        p->in_h);                       \
                        if (iy < 0) continue;                                           \
                        for (int32_t fx = 0; fx < p->f_w; ++fx) {                       \
                            const int32_t ix = ek_tc_source(ox, p->pad_w, fx,           \
                                                            p->stride_w, p->in_w);      \
                            if (ix < 0) continue;                                       \
                            const XT *x = in + (((int64_t)b * p->in_h + iy) * p->in_w   \
                                                + ix) * p->in_c;                        \
                            const int8_t *w = filter + (((int64_t)oc * p->f_h + fy)     \
                                                        * p->f_w + fx) * p->in_c;       \
                            for (int32_t c = 0; c < p->in_c; ++c) {                     \
                                acc += MAC(x[c], w[c]);                                 \
                            }                                                           \
                        }                                                               \
                    }                                                                   \
                    if (bias) acc += bias[oc];                                          \
                    STORE(out + opix * p->out_c, oc, acc);                              \
                }                                                                       \
            }                                                                           \
        }                                                                               \
    }

#define EK_TC_MAC_S8(x, w) (((int32_t)(x) + p->in_offset) * (int32_t)(w))
#define EK_TC_STORE_S8(o, oc, acc)                                                      \
    (o)[oc] = (int8_t)ek_clamp32(ek_mbqm(acc, p->mult[oc], p->shift[oc]) + p->out_offset, \
                                 p->act_min, p->act_max)
#define EK_TC_MAC_S16(x, w) (int64_t)((int32_t)(x) * (int32_t)(w))
#define EK_TC_STORE_S16(o, oc, acc)                                                     \
    (o)[oc] = (int16_t)ek_clamp32(ek_mbqm64(acc, p->mult[oc], p->shift[oc]), p->act_min, \
                                  p->act_max)

void ek_transpose_conv_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                          const int32_t *bias, int8_t *out) {
    EK_TC_GATHER(int8_t, int32_t, EK_TC_MAC_S8, EK_TC_STORE_S8)
}

void ek_transpose_conv_s16(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                           const int64_t *bias, int16_t *out) {
    EK_TC_GATHER(int16_t, int64_t, EK_TC_MAC_S16, EK_TC_STORE_S16)
}
