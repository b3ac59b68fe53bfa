/* edgekit: every step of an int8 LIF layer in one call (ops/lif_layer.py).
 * The membrane of a channel stays in a register over the steps; the leak's
 * two input rescalings are table reads (doubled), their sum one rounding
 * high product: the same int8 codes as the TFLite chain of each step
 * (checked on all pairs of codes at export). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

void ek_lif_layer_s8(const ek_lif_layer_params *p, const int8_t *in, int8_t *spikes) {
    const int32_t n = p->channels, total = n * p->steps;
    const int32_t mo = p->mo, ao = p->ao, ro = p->ro, k = p->spike_k;
    const int32_t *const cur = p->cur_lut, *const mem = p->mem_lut;
    const uint8_t *const end = (const uint8_t *)in + total;
    const int32_t d = (int32_t)(spikes - in);
    for (int32_t c = 0; c < n; ++c) {
        const uint8_t *x = (const uint8_t *)in + c;
        int32_t m = 0;                                  /* the zero membrane, rescaled */
        do {
            const int32_t x2 = m + cur[*x];             /* by the code's low byte */
            const int32_t u = ek_usat8((ek_mlahr(x2, mo, ao) + (x2 >> 31)) >> ro);
            ((int8_t *)(uintptr_t)x)[d] = (int8_t)ek_sat8(k + u * 256);
            m = mem[u];                                 /* u = v + 128 */
            x += n;
        } while (x < end);
    }
}

/* has_next is a literal at each call site: two loops. */
static inline __attribute__((always_inline)) void
ek_lif_step_run(const ek_lif_step_params *p, const int8_t *in1, const int8_t *in2,
                int8_t *spikes, int8_t *next, const int has_next) {
    const int32_t n = p->size, mo = p->mo, ao = p->ao, ro = p->ro, k = p->spike_k;
    const int32_t *const t1 = p->in1_lut, *const t2 = p->in2_lut;
    const uint8_t *const nx = (const uint8_t *)(const void *)p->next_lut;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x2 = t1[(uint8_t)in1[i]] + t2[(uint8_t)in2[i]];
        const int32_t u = ek_usat8((ek_mlahr(x2, mo, ao) + (x2 >> 31)) >> ro);
        spikes[i] = (int8_t)ek_sat8(k + u * 256);
        if (has_next) next[i] = (int8_t)nx[u];
    }
}

void ek_lif_step_s8(const ek_lif_step_params *p, const int8_t *in1, const int8_t *in2,
                    int8_t *spikes, int8_t *next) {
    if (next) {
        ek_lif_step_run(p, in1, in2, spikes, next, 1);
    } else {
        ek_lif_step_run(p, in1, in2, spikes, next, 0);
    }
}

void ek_lif_layer16_s8(const ek_lif_layer16_params *p, const int8_t *in, int8_t *spikes) {
    const int32_t n = p->channels, total = n * p->steps, sh = p->sh, k = p->spike_k;
    const int16_t *const cur = (const int16_t *)(const void *)p->cur_lut;
    const int16_t *const mem = (const int16_t *)(const void *)p->mem_lut;
    const int32_t d = (int32_t)(spikes - in);
    int32_t c = 0;
    /* two channels at a time: one pointer step and loop test for both */
    for (; c + 1 < n; c += 2) {
        const uint8_t *x = (const uint8_t *)in + c;
        const uint8_t *const end = x + total;
        int32_t m0 = 0, m1 = 0;                         /* the zero membranes */
        do {
            const int32_t u0 = ek_usat8((m0 + cur[x[0]]) >> sh);
            const int32_t u1 = ek_usat8((m1 + cur[x[1]]) >> sh);
            ((int8_t *)(uintptr_t)x)[d] = (int8_t)ek_sat8(k + u0 * 256);
            ((int8_t *)(uintptr_t)x)[d + 1] = (int8_t)ek_sat8(k + u1 * 256);
            m0 = mem[u0];
            m1 = mem[u1];
            x += n;
        } while (x < end);
    }
    for (; c < n; ++c) {
        const uint8_t *x = (const uint8_t *)in + c;
        const uint8_t *const end = x + total;
        int32_t m = 0;
        do {
            const int32_t u = ek_usat8((m + cur[*x]) >> sh);
            ((int8_t *)(uintptr_t)x)[d] = (int8_t)ek_sat8(k + u * 256);
            m = mem[u];
            x += n;
        } while (x < end);
    }
}

static inline __attribute__((always_inline)) void
ek_lif_step16_run(const ek_lif_step16_params *p, const int8_t *in1, const int8_t *in2,
                  int8_t *spikes, int8_t *next, const int has_next) {
    const int32_t n = p->size, sh = p->sh, k = p->spike_k;
    const int16_t *const t1 = (const int16_t *)(const void *)p->in1_lut;
    const int16_t *const t2 = (const int16_t *)(const void *)p->in2_lut;
    const uint8_t *const nx = (const uint8_t *)(const void *)p->next_lut;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t u = ek_usat8((t1[(uint8_t)in1[i]] + t2[(uint8_t)in2[i]]) >> sh);
        spikes[i] = (int8_t)ek_sat8(k + u * 256);
        if (has_next) next[i] = (int8_t)nx[u];
    }
}

void ek_lif_step16_s8(const ek_lif_step16_params *p, const int8_t *in1, const int8_t *in2,
                      int8_t *spikes, int8_t *next) {
    if (next) {
        ek_lif_step16_run(p, in1, in2, spikes, next, 1);
    } else {
        ek_lif_step16_run(p, in1, in2, spikes, next, 0);
    }
}
