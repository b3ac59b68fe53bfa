/* edgekit: one step of an int8 LIF layer (leak, fire, hard reset, decay),
 * fused from the TFLite chain of ADD/MUL ops it replaces: each stage is the
 * int8 ADD or MUL of that chain (same requantization, same clamps), the
 * spike stages folded at export time into the threshold code v_on. */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"

static inline int32_t ek_lif_leak(const ek_lif_exact_params *p, int32_t a, int32_t b) {
    const int32_t x1 = ek_shl(a + p->v_in1_offset, p->v_left_shift);
    const int32_t x2 = ek_shl(b + p->v_in2_offset, p->v_left_shift);
    const int32_t s1 = ek_mbqm(x1, p->v_in1_mult, p->v_in1_shift);
    const int32_t s2 = ek_mbqm(x2, p->v_in2_mult, p->v_in2_shift);
    const int32_t r = ek_mbqm(s1 + s2, p->v_out_mult, p->v_out_shift) + p->v_out_offset;
    return ek_clamp32(r, p->v_act_min, p->v_act_max);
}

/* The f_half loop: one input rescaled exactly ((h << 19), its offset folded
 * into a), the other by one rounding high product, the sum by another; v
 * needs no clamp beyond int8.  has_next is a literal at each call site: two
 * branch-free loops, indexed by one counter. */
static inline __attribute__((always_inline)) void
ek_lif_half(const ek_lif_params *p, const int8_t *gin, const int8_t *hin, int8_t *spikes,
            int8_t *next, const int8_t *lut, const int has_next) {
    const int32_t n = p->size, v_on = p->v_on;
    const int32_t off = p->f_off1, m = p->f_m1, a = p->f_add1, rsh = p->f_rsh1;
    const int32_t mo = p->f_mo, ao = p->f_ao, ro = p->f_ro;
    const int8_t s_on = (int8_t)p->s_on, s_off = (int8_t)p->s_off;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t s = ek_rq_x2((int32_t)((uint32_t)gin[i] << 21) + off, m, a, rsh)
                          + (int32_t)((uint32_t)hin[i] << 19);
        const int32_t v = ek_sat8(ek_rq_x2(2 * s, mo, ao, ro));
        spikes[i] = v >= v_on ? s_on : s_off;
        if (has_next) next[i] = lut[v];
    }
}

/* The general fast loop: both inputs by rounding high products, v clamped to
 * the ADD's activation range. */
static inline __attribute__((always_inline)) void
ek_lif_two(const ek_lif_params *p, const int8_t *in1, const int8_t *in2, int8_t *spikes,
           int8_t *next, const int8_t *lut, const int has_next) {
    const int32_t n = p->size, v_on = p->v_on;
    const int32_t pre1 = p->f_pre1, off1 = p->f_off1, m1 = p->f_m1, a1 = p->f_add1;
    const int32_t r1 = p->f_rsh1, pre2 = p->f_pre2, off2 = p->f_off2, m2 = p->f_m2;
    const int32_t a2 = p->f_add2, r2 = p->f_rsh2, mo = p->f_mo, ao = p->f_ao, ro = p->f_ro;
    const int32_t lo = p->v_act_min, hi = p->v_act_max;
    const int8_t s_on = (int8_t)p->s_on, s_off = (int8_t)p->s_off;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t s1 = ek_rq_x2((int32_t)((uint32_t)in1[i] << pre1) + off1, m1, a1, r1);
        const int32_t s2 = ek_rq_x2((int32_t)((uint32_t)in2[i] << pre2) + off2, m2, a2, r2);
        int32_t v = ek_rq_x2(2 * (s1 + s2), mo, ao, ro);
        v = v < lo ? lo : (v > hi ? hi : v);
        spikes[i] = v >= v_on ? s_on : s_off;
        if (has_next) next[i] = lut[v];
    }
}

/* The fast form (ops/lif.py lif_fast_params): the same codes as ek_lif_exact_s8. */
void ek_lif_s8(const ek_lif_params *p, const int8_t *in1, const int8_t *in2, int8_t *spikes,
               int8_t *next) {
    const int32_t n = p->size, v_on = p->v_on, has_next = p->has_next;
    const int8_t s_on = (int8_t)p->s_on, s_off = (int8_t)p->s_off;
    const int8_t *const lut = (const int8_t *)(const void *)p->next_lut + 128;
    if (!p->has_prev) {
        for (int32_t i = 0; i < n; ++i) {
            const int32_t v = in1[i];
            spikes[i] = v >= v_on ? s_on : s_off;
            if (has_next) next[i] = lut[v];
        }
        return;
    }
    if (p->f_half) {    /* one input rescaled exactly: (x << 19) + hoff, hoff in a */
        const int8_t *const gin = p->f_half == 2 ? in1 : in2;
        const int8_t *const hin = p->f_half == 2 ? in2 : in1;
        if (has_next) {
            ek_lif_half(p, gin, hin, spikes, next, lut, 1);
        } else {
            ek_lif_half(p, gin, hin, spikes, next, lut, 0);
        }
        return;
    }
    if (has_next) {
        ek_lif_two(p, in1, in2, spikes, next, lut, 1);
    } else {
        ek_lif_two(p, in1, in2, spikes, next, lut, 0);
    }
}

void ek_lif_exact_s8(const ek_lif_exact_params *p, const int8_t *in1, const int8_t *in2,
                     int8_t *spikes, int8_t *next) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = p->has_prev ? ek_lif_leak(p, in1[i], in2[i]) : in1[i];
        const int spike = v >= p->v_on;
        if (p->has_next) {
            const int32_t prod = (v + p->r_in_offset) * (spike ? p->r_on_term : p->r_off_term);
            int32_t r = ek_mbqm(prod, p->r_mult, p->r_shift) + p->r_out_offset;
            r = ek_clamp32(r, p->r_act_min, p->r_act_max);
            if (p->has_decay) {
                r = ek_mbqm((r + p->dr_in_offset) * p->dr_term, p->dr_mult, p->dr_shift)
                    + p->dr_out_offset;
                r = ek_clamp32(r, p->dr_act_min, p->dr_act_max);
            }
            next[i] = (int8_t)r;
        }
        spikes[i] = (int8_t)(spike ? p->s_on : p->s_off);
    }
}
