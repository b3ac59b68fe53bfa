/* edgekit: PAD / PADV2, int8, over up to 6 dims (shapes padded with leading
 * 1s); padded elements take a constant quantized value.  The output is
 * written a row (the last dim) at a time: a row outside the input is filled,
 * a row inside is its leading fill, the input row copied, its trailing fill. */
#include <string.h>

#include "ek_kernels.h"

void ek_pad_s8(const ek_pad_params *p, const int8_t *in, int8_t *out) {
    const int32_t out_w = p->out_shape[5], in_w = p->in_shape[5], lead = p->before[5];
    const int32_t tail = out_w - lead - in_w;
    const int32_t rows = out_w > 0 ? p->size / out_w : 0;
    int32_t idx[5] = {0, 0, 0, 0, 0};
    for (int32_t r = 0; r < rows; ++r) {
        int inside = 1;
        int32_t src = 0;
        for (int d = 0; d < 5; ++d) {
            const int32_t v = idx[d] - p->before[d];
            if (v < 0 || v >= p->in_shape[d]) {
                inside = 0;
                break;
            }
            src = src * p->in_shape[d] + v;
        }
        int8_t *o = out + (int64_t)r * out_w;
        if (!inside) {
            memset(o, (int8_t)p->value, (size_t)out_w);
        } else {
            memset(o, (int8_t)p->value, (size_t)lead);
            memcpy(o + lead, in + (int64_t)src * in_w, (size_t)in_w);
            memset(o + lead + in_w, (int8_t)p->value, (size_t)tail);
        }
        for (int d = 4; d >= 0; --d) {
            if (++idx[d] < p->out_shape[d]) break;
            idx[d] = 0;
        }
    }
}
