/* edgekit: reference FULLY_CONNECTED int8 loop, shared by kernels/ek_fully_connected.c and its
 * optimized version (kernels/optimized/ek_fully_connected.c, general fallback).
 * The loop is marked unused: the optimized kernel calls it only when its
 * ek_paths.h lists the fallback. */
#ifndef EK_FULLY_CONNECTED_REF_H
#define EK_FULLY_CONNECTED_REF_H

#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static __attribute__((unused)) void ek_fully_connected_reference(const ek_fc_params *p, const int8_t *in, const int8_t *filter,
                                         const int32_t *bias, int8_t *out) {
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (int64_t)b * p->accum;
        for (int32_t u = 0; u < p->units; ++u) {
            const int8_t *w = filter + (int64_t)u * p->accum;
            int32_t acc = 0;
            for (int32_t d = 0; d < p->accum; ++d) {
                acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)x[d] + p->in_offset);
            }
            if (bias) acc += bias[u];
            const int32_t ch = p->per_channel ? u : 0;
            acc = ek_mbqm(acc, p->mult[ch], p->shift[ch]) + p->out_offset;
            out[(int64_t)b * p->units + u] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
        }
    }
}

#endif /* EK_FULLY_CONNECTED_REF_H */
