/* edgekit: an int8 ADD one of whose inputs holds one of a few codes (a spike
 * tensor, or a sum of two), by two int16 tables (ops/code_add.py): the
 * tables' sum, shifted (and saturated), is the output code for every pair
 * of codes the inputs can hold (checked at export against TFLite's ADD).  The few
 * codes' table is indexed by the code's low byte >> fsh (a few entries). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static inline __attribute__((always_inline)) void
ek_code_add_run(const ek_code_add_params *p, const int8_t *few, const int8_t *dense,
                int8_t *out, const int with_add) {
    const int32_t n = p->size, sh = p->sh, add = with_add ? p->add : 0, fsh = p->fsh;
    const int16_t *const tf = (const int16_t *)(const void *)p->f_lut;
    const int16_t *const td = (const int16_t *)(const void *)p->d_lut;
    const uint8_t *x = (const uint8_t *)few, *y = (const uint8_t *)dense;
    for (int32_t i = 0; i < n; ++i) {
        out[i] = (int8_t)ek_sat8((tf[x[i] >> fsh] + td[y[i]] + add) >> sh);
    }
}

/* add 0 (folded into f_lut) */
void ek_code_add_s8(const ek_code_add_params *p, const int8_t *few, const int8_t *dense,
                    int8_t *out) {
    ek_code_add_run(p, few, dense, out, 0);
}

void ek_code_addc_s8(const ek_code_add_params *p, const int8_t *few, const int8_t *dense,
                     int8_t *out) {
    ek_code_add_run(p, few, dense, out, 1);
}
