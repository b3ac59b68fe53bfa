/* edgekit: PAD / PADV2 with int16 elements over up to 6 dims (shapes padded
 * with leading 1s); padded elements take a constant quantized value. */
#include "ek_kernels.h"

void ek_pad_s16(const ek_pad_params *p, const int16_t *in, int16_t *out) {
    int32_t idx[6] = {0, 0, 0, 0, 0, 0};
    for (int32_t i = 0; i < p->size; ++i) {
        int inside = 1;
        int32_t src = 0;
        for (int d = 0; d < 6; ++d) {
            const int32_t v = idx[d] - p->before[d];
            if (v < 0 || v >= p->in_shape[d]) {
                inside = 0;
                break;
            }
            src = src * p->in_shape[d] + v;
        }
        out[i] = inside ? in[src] : (int16_t)p->value;
        for (int d = 5; d >= 0; --d) {
            if (++idx[d] < p->out_shape[d]) break;
            idx[d] = 0;
        }
    }
}
