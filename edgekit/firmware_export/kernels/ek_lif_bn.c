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
 * K, the head's form and the stages' forms are literals in each function:
 * ek_lif_bn<K>_<shifted>_s8 for head_sh 7 and head_add 0 (the usual tables),
 * ek_lif_bn<K>h_<shifted>_s8 otherwise; bit k of shifted: stage k is an ADD
 * (P = 2^20, u * P = u << 20, only Q stored)  (-ffunction-sections: a
 * firmware links the ones its model calls). */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

#define EK_LIF_BN_SH 7

static inline __attribute__((always_inline)) int32_t
ek_lif_bn_stage(int32_t u, int32_t pk, int32_t qk, int32_t m, int32_t add, int32_t rsh,
                const int shifted) {
    const int32_t v = shifted ? (int32_t)((uint32_t)u << 20) + qk : u * pk + qk;
    return ek_usat8((ek_mlahr(v, m, add) + (v >> 31)) >> rsh);
}

/* pq holds per stage, channel by channel, P and Q (or Q alone: bit k of
 * `shifted`); the offset of stage k's block and its width are literals. */
#define EK_LIF_BN_W(k) ((shifted >> (k) & 1) ? 1 : 2)

static inline __attribute__((always_inline)) void
ek_lif_bn_run(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b, int8_t *spikes,
              const int stages, const int head, const int shifted) {
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
    const int32_t w1 = EK_LIF_BN_W(0), w2 = EK_LIF_BN_W(1), w3 = EK_LIF_BN_W(2);
    const int32_t *const s1 = p->pq, *const s2 = s1 + w1 * n, *const s3 = s2 + w2 * n;
    const uint8_t *const end = (const uint8_t *)a + total;
    const int32_t db = (int32_t)(b - a), ds = (int32_t)(spikes - a);
    for (int32_t c = 0; c < n; ++c) {
        const int32_t *const q1 = s1 + w1 * c, *const q2 = s2 + w2 * c, *const q3 = s3 + w3 * c;
        const int32_t p1 = stages > 0 && w1 == 2 ? q1[0] : 0, o1 = stages > 0 ? q1[w1 - 1] : 0;
        const int32_t p2 = stages > 1 && w2 == 2 ? q2[0] : 0, o2 = stages > 1 ? q2[w2 - 1] : 0;
        const int32_t p3 = stages > 2 && w3 == 2 ? q3[0] : 0, o3 = stages > 2 ? q3[w3 - 1] : 0;
        const uint8_t *x = (const uint8_t *)a + c;
        int32_t m = 0;                                  /* the zero membrane */
        do {
            int32_t u = ek_usat8((ta[x[0]] + tb[x[db]] + hadd) >> hsh);
            if (stages > 0) u = ek_lif_bn_stage(u, p1, o1, m1, a1, r1, shifted & 1);
            if (stages > 1) u = ek_lif_bn_stage(u, p2, o2, m2, a2, r2, shifted >> 1 & 1);
            if (stages > 2) u = ek_lif_bn_stage(u, p3, o3, m3, a3, r3, shifted >> 2 & 1);
            u = ek_usat8((m + cur[u]) >> EK_LIF_BN_SH);
            ((int8_t *)(uintptr_t)x)[ds] = (int8_t)ek_sat8(k + u * 256);
            m = mem[u];
            x += n;
        } while (x < end);
    }
}

/* ek_lif_bn<K>[h]_<shifted>_s8: K stages, the general head (h), the stages
 * stored as Q only (bit mask). */
#define EK_LIF_BN_FN(name, stages, head, shifted)                                           \
    void name(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b, int8_t *spikes) { \
        ek_lif_bn_run(p, a, b, spikes, stages, head, shifted);                              \
    }

EK_LIF_BN_FN(ek_lif_bn0_0_s8, 0, 0, 0)
EK_LIF_BN_FN(ek_lif_bn0h_0_s8, 0, 1, 0)
EK_LIF_BN_FN(ek_lif_bn1_0_s8, 1, 0, 0)
EK_LIF_BN_FN(ek_lif_bn1_1_s8, 1, 0, 1)
EK_LIF_BN_FN(ek_lif_bn1h_0_s8, 1, 1, 0)
EK_LIF_BN_FN(ek_lif_bn1h_1_s8, 1, 1, 1)
EK_LIF_BN_FN(ek_lif_bn2_0_s8, 2, 0, 0)
EK_LIF_BN_FN(ek_lif_bn2_1_s8, 2, 0, 1)
EK_LIF_BN_FN(ek_lif_bn2_2_s8, 2, 0, 2)
EK_LIF_BN_FN(ek_lif_bn2_3_s8, 2, 0, 3)
EK_LIF_BN_FN(ek_lif_bn2h_0_s8, 2, 1, 0)
EK_LIF_BN_FN(ek_lif_bn2h_1_s8, 2, 1, 1)
EK_LIF_BN_FN(ek_lif_bn2h_2_s8, 2, 1, 2)
EK_LIF_BN_FN(ek_lif_bn2h_3_s8, 2, 1, 3)
EK_LIF_BN_FN(ek_lif_bn3_0_s8, 3, 0, 0)
EK_LIF_BN_FN(ek_lif_bn3_1_s8, 3, 0, 1)
EK_LIF_BN_FN(ek_lif_bn3_2_s8, 3, 0, 2)
EK_LIF_BN_FN(ek_lif_bn3_3_s8, 3, 0, 3)
EK_LIF_BN_FN(ek_lif_bn3_4_s8, 3, 0, 4)
EK_LIF_BN_FN(ek_lif_bn3_5_s8, 3, 0, 5)
EK_LIF_BN_FN(ek_lif_bn3_6_s8, 3, 0, 6)
EK_LIF_BN_FN(ek_lif_bn3_7_s8, 3, 0, 7)
EK_LIF_BN_FN(ek_lif_bn3h_0_s8, 3, 1, 0)
EK_LIF_BN_FN(ek_lif_bn3h_1_s8, 3, 1, 1)
EK_LIF_BN_FN(ek_lif_bn3h_2_s8, 3, 1, 2)
EK_LIF_BN_FN(ek_lif_bn3h_3_s8, 3, 1, 3)
EK_LIF_BN_FN(ek_lif_bn3h_4_s8, 3, 1, 4)
EK_LIF_BN_FN(ek_lif_bn3h_5_s8, 3, 1, 5)
EK_LIF_BN_FN(ek_lif_bn3h_6_s8, 3, 1, 6)
EK_LIF_BN_FN(ek_lif_bn3h_7_s8, 3, 1, 7)
