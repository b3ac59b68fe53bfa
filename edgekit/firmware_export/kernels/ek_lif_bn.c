/* edgekit: a LIF layer with the int8 ADD and the per-channel ADD/MUL stages
 * in front of it (a batch normalization) in one call (ops/lif_bn.py).
 *
 * Per channel c (outer loop) and step t, u an int8 code + 128:
 *   u = usat8((a_lut[a] + b_lut[b] + head_add) >> head_sh) the ADD of a and b
 *   v = u * P_k[c] + Q_k[c]                                 stage k = 1..K:
 *   u = usat8((mlahr(v, m_k, add_k) + (v >> 31)) >> rsh_k)  TFLite's requantization
 *   then the LIF step of ek_lif_layer16_s8 on u (cur_lut by u).
 * The channel's P, Q stay in registers over the steps, as the membrane does.
 * Every table and form is checked at export on all codes and channels.
 * K and the head's form are literals in each function: ek_lif_bn<K>_s8 for
 * head_sh 7 and head_add 0 (the usual tables), ek_lif_bn<K>h_s8 otherwise
 * (-ffunction-sections: a firmware links the ones its model calls). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

#define EK_LIF_BN_SH 7

static inline __attribute__((always_inline)) int32_t
ek_lif_bn_stage(int32_t u, int32_t pk, int32_t qk, int32_t m, int32_t add, int32_t rsh) {
    const int32_t v = u * pk + qk;
    return ek_usat8((ek_mlahr(v, m, add) + (v >> 31)) >> rsh);
}

static inline __attribute__((always_inline)) void
ek_lif_bn_run(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b, int8_t *spikes,
              const int stages, const int head) {
    const int32_t n = p->channels, total = n * p->steps, k = p->spike_k;
    const int32_t hadd = head ? p->head_add : 0, hsh = head ? p->head_sh : EK_LIF_BN_SH;
    const int16_t *const ta = (const int16_t *)(const void *)p->a_lut;
    const int16_t *const tb = (const int16_t *)(const void *)p->b_lut;
    const int16_t *const cur = (const int16_t *)(const void *)p->cur_lut;
    const int16_t *const mem = (const int16_t *)(const void *)p->mem_lut;
    const int32_t *const rq = p->rq;
    const int32_t m1 = stages > 0 ? rq[0] : 0, a1 = stages > 0 ? rq[1] : 0;
    const int32_t r1 = stages > 0 ? rq[2] : 0;
    const int32_t m2 = stages > 1 ? rq[3] : 0, a2 = stages > 1 ? rq[4] : 0;
    const int32_t r2 = stages > 1 ? rq[5] : 0;
    const int32_t m3 = stages > 2 ? rq[6] : 0, a3 = stages > 2 ? rq[7] : 0;
    const int32_t r3 = stages > 2 ? rq[8] : 0;
    const uint8_t *const end = (const uint8_t *)a + total;
    const int32_t db = (int32_t)(b - a), ds = (int32_t)(spikes - a);
    for (int32_t c = 0; c < n; ++c) {
        const int32_t *const pq = p->pq + 2 * c;      /* [stage][channel][P, Q] */
        const int32_t p1 = stages > 0 ? pq[0] : 0, q1 = stages > 0 ? pq[1] : 0;
        const int32_t p2 = stages > 1 ? pq[2 * n] : 0, q2 = stages > 1 ? pq[2 * n + 1] : 0;
        const int32_t p3 = stages > 2 ? pq[4 * n] : 0, q3 = stages > 2 ? pq[4 * n + 1] : 0;
        const uint8_t *x = (const uint8_t *)a + c;
        int32_t m = 0;                                  /* the zero membrane */
        do {
            int32_t u = ek_usat8((ta[x[0]] + tb[x[db]] + hadd) >> hsh);
            if (stages > 0) u = ek_lif_bn_stage(u, p1, q1, m1, a1, r1);
            if (stages > 1) u = ek_lif_bn_stage(u, p2, q2, m2, a2, r2);
            if (stages > 2) u = ek_lif_bn_stage(u, p3, q3, m3, a3, r3);
            u = ek_usat8((m + cur[u]) >> EK_LIF_BN_SH);
            ((int8_t *)(uintptr_t)x)[ds] = (int8_t)ek_sat8(k + u * 256);
            m = mem[u];
            x += n;
        } while (x < end);
    }
}

void ek_lif_bn0_s8(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b,
                   int8_t *spikes) {
    ek_lif_bn_run(p, a, b, spikes, 0, 0);
}

void ek_lif_bn0h_s8(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b,
                    int8_t *spikes) {
    ek_lif_bn_run(p, a, b, spikes, 0, 1);
}

void ek_lif_bn1_s8(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b,
                   int8_t *spikes) {
    ek_lif_bn_run(p, a, b, spikes, 1, 0);
}

void ek_lif_bn1h_s8(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b,
                    int8_t *spikes) {
    ek_lif_bn_run(p, a, b, spikes, 1, 1);
}

void ek_lif_bn2_s8(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b,
                   int8_t *spikes) {
    ek_lif_bn_run(p, a, b, spikes, 2, 0);
}

void ek_lif_bn2h_s8(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b,
                    int8_t *spikes) {
    ek_lif_bn_run(p, a, b, spikes, 2, 1);
}

void ek_lif_bn3_s8(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b,
                   int8_t *spikes) {
    ek_lif_bn_run(p, a, b, spikes, 3, 0);
}

void ek_lif_bn3h_s8(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b,
                    int8_t *spikes) {
    ek_lif_bn_run(p, a, b, spikes, 3, 1);
}
