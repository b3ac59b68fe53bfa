/* edgekit: AVERAGE_POOL_2D and MAX_POOL_2D with int16 activations (input
 * and output share scale and zero point 0): the window is clamped to the
 * input, the average rounds half away from zero over the taps inside. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

#define EK_POOL16(INIT, ACC, FINISH)                                                       \
    for (int32_t b = 0; b < p->batches; ++b)                                               \
        for (int32_t oy = 0; oy < p->out_h; ++oy)                                          \
            for (int32_t ox = 0; ox < p->out_w; ++ox) {                                    \
                const int32_t iy0 = oy * p->stride_h - p->pad_h;                           \
                const int32_t ix0 = ox * p->stride_w - p->pad_w;                           \
                const int32_t fy0 = ek_max32(0, -iy0), fy1 = ek_min32(p->f_h, p->in_h - iy0); \
                const int32_t fx0 = ek_max32(0, -ix0), fx1 = ek_min32(p->f_w, p->in_w - ix0); \
                for (int32_t c = 0; c < p->c; ++c) {                                       \
                    INIT;                                                                  \
                    for (int32_t fy = fy0; fy < fy1; ++fy)                                 \
                        for (int32_t fx = fx0; fx < fx1; ++fx) {                           \
                            const int32_t v = in[(((int64_t)b * p->in_h + iy0 + fy) * p->in_w \
                                                  + ix0 + fx) * p->c + c];                 \
                            ACC;                                                           \
                        }                                                                  \
                    FINISH;                                                                \
                    out[(((int64_t)b * p->out_h + oy) * p->out_w + ox) * p->c + c] =       \
                        (int16_t)ek_clamp32(r, p->act_min, p->act_max);                    \
                }                                                                          \
            }

void ek_avg_pool_s16(const ek_pool_params *p, const int16_t *in, int16_t *out) {
    EK_POOL16(int32_t acc = 0; int32_t r,
              acc += v,
              const int32_t n = (fy1 - fy0) * (fx1 - fx0);
              if (n <= 0) { r = 0; } else {
                  r = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
              })
}

void ek_max_pool_s16(const ek_pool_params *p, const int16_t *in, int16_t *out) {
    EK_POOL16(int32_t r = -32768,
              if (v > r) r = v,
              (void)0)
}
