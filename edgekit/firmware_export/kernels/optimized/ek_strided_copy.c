/* edgekit: TRANSPOSE and STRIDED_SLICE, optimized version of
 * kernels/ek_strided_copy.c: same function, same bytes.
 *
 * Where the innermost dim is contiguous in the input (step 1: a slice of
 * whole rows, the history shifts of streaming models, a transpose that
 * keeps the last axis) each run of shape[5] elements is one memcpy and the
 * index carry runs once per run instead of once per element.  Other
 * gathers take the element loop of ek_strided_copy_ref.h. */
#include <stddef.h>
#include <string.h>

#include "ek_kernels.h"
#include "ek_strided_copy_ref.h"

void ek_strided_copy(const ek_strided_copy_params *p, const void *in, void *out) {
    if (p->step[5] != 1 || p->shape[5] < 2) {
        ek_strided_copy_ref(p, in, out);
        return;
    }
    const size_t es = (size_t)p->elem_size;
    const size_t run = (size_t)p->shape[5] * es;
    const int32_t runs = p->size / p->shape[5];
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    int32_t idx[5] = {0, 0, 0, 0, 0};
    int32_t off = p->base;
    for (int32_t r = 0; r < runs; ++r) {
        memcpy(dst, src + (ptrdiff_t)off * (ptrdiff_t)es, run);
        dst += run;
        for (int d = 4; d >= 0; --d) {
            off += p->step[d];
            if (++idx[d] < p->shape[d]) break;
            off -= p->step[d] * p->shape[d];
            idx[d] = 0;
        }
    }
}
