/* edgekit: FULLY_CONNECTED, int8 input, int8 weights [units, accum], int32 bias.
 *
 * Optimized version of kernels/ek_fully_connected.c: same function, same
 * results bit for bit (exact int32 sums in any order; requantization per
 * output as ek_mbqm, see ekopt_rq_apply).
 *
 * Fast path (filter_offset == 0, i.e. symmetric int8 weights):
 *   - two units per pass over the input row, so each input element loaded
 *     feeds two multiply-accumulates;
 *   - on DSP cores the input row (plus the input offset) is first widened
 *     once into a stack buffer of halfword pairs (x0, x2), (x1, x3), ...,
 *     the pairing SXTB16 gives for a weight word and its rotation by 8.
 *     Per four weights of a unit that leaves one LDR, two SXTB16 and two
 *     SMLAD, plus one LDRD of the input per four inputs and two units.
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_fully_connected_ref.h"

#if EKOPT_DSP
#define EKOPT_FC_MAXACC 1024  /* input row length widened on the stack (2 KB) */
#endif

void ek_fully_connected_s8(const ek_fc_params *p, const int8_t *in, const int8_t *filter,
                           const int32_t *bias, int8_t *out) {
    const int32_t nq = p->per_channel ? p->units : 1;
    if (p->filter_offset != 0 || !ekopt_rq_ok(p->mult, p->shift, nq)) {
        ek_fully_connected_reference(p, in, filter, bias, out);
        return;
    }
    const int32_t A = p->accum, off = p->in_offset;
    ekopt_rq q = ekopt_rq_make(p->mult[0], p->shift[0]);
#if EKOPT_DSP
    int32_t xw[EKOPT_FC_MAXACC / 2];
    const int widen = A <= EKOPT_FC_MAXACC;
    const int32_t chunks = widen ? A >> 2 : 0;
    const int32_t off2 = ekopt_off2(off);
#else
    const int32_t chunks = 0;
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (int64_t)b * A;
        int8_t *y = out + (int64_t)b * p->units;
#if EKOPT_DSP
        for (int32_t j = 0; j < chunks; ++j) {
            const int32_t v = ekopt_ld4(x + 4 * j);
            xw[2 * j] = __sxtab16(off2, v);
            xw[2 * j + 1] = ekopt_sxtab16_hi(off2, v);
        }
#endif
        for (int32_t u = 0; u < p->units; u += 2) {
            /* Odd units: the last one is computed twice, stored once. */
            const int32_t u1 = u + 1 < p->units ? u + 1 : u;
            const int8_t *wa = filter + (int64_t)u * A, *wb = filter + (int64_t)u1 * A;
            int32_t s0 = bias ? bias[u] : 0, s1 = bias ? bias[u1] : 0;
#if EKOPT_DSP
            const int32_t *xp = xw;
            if (chunks & 1) {
                const int32_t va = ekopt_ld4(wa), vb = ekopt_ld4(wb);
                s0 = __smlad(xp[0], __sxtb16(va), s0);
                s0 = __smlad(xp[1], ekopt_sxtb16_hi(va), s0);
                s1 = __smlad(xp[0], __sxtb16(vb), s1);
                s1 = __smlad(xp[1], ekopt_sxtb16_hi(vb), s1);
                xp += 2; wa += 4; wb += 4;
            }
            if (chunks >> 1) {
                /* Eight inputs per trip: two LDRD of four widened pairs, then
                 * per unit two weight words, four SXTB16, four SMLAD. */
                const int32_t *xe = xp + 2 * (chunks & ~1);
                int32_t t0, t1, x0, x1, x2, x3;
                __asm__ volatile(
                    "1:\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #16\n\t"
                    "ldrd   %[x2], %[x3], [%[x], #-8]\n\t"
                    "ldr    %[t0], [%[wa]], #4\n\t"
                    "sxtb16 %[t1], %[t0], ror #8\n\t"
                    "sxtb16 %[t0], %[t0]\n\t"
                    "smlad  %[s0], %[x0], %[t0], %[s0]\n\t"
                    "smlad  %[s0], %[x1], %[t1], %[s0]\n\t"
                    "ldr    %[t0], [%[wb]], #4\n\t"
                    "sxtb16 %[t1], %[t0], ror #8\n\t"
                    "sxtb16 %[t0], %[t0]\n\t"
                    "smlad  %[s1], %[x0], %[t0], %[s1]\n\t"
                    "smlad  %[s1], %[x1], %[t1], %[s1]\n\t"
                    "ldr    %[t0], [%[wa]], #4\n\t"
                    "sxtb16 %[t1], %[t0], ror #8\n\t"
                    "sxtb16 %[t0], %[t0]\n\t"
                    "smlad  %[s0], %[x2], %[t0], %[s0]\n\t"
                    "smlad  %[s0], %[x3], %[t1], %[s0]\n\t"
                    "ldr    %[t0], [%[wb]], #4\n\t"
                    "sxtb16 %[t1], %[t0], ror #8\n\t"
                    "sxtb16 %[t0], %[t0]\n\t"
                    "smlad  %[s1], %[x2], %[t0], %[s1]\n\t"
                    "smlad  %[s1], %[x3], %[t1], %[s1]\n\t"
                    "cmp    %[x], %[e]\n\t"
                    "bne    1b\n\t"
                    : [s0] "+r"(s0), [s1] "+r"(s1), [x] "+r"(xp), [wa] "+r"(wa), [wb] "+r"(wb),
                      [t0] "=&r"(t0), [t1] "=&r"(t1), [x0] "=&r"(x0), [x1] "=&r"(x1),
                      [x2] "=&r"(x2), [x3] "=&r"(x3)
                    : [e] "r"(xe)
                    : "cc", "memory");
            }
#endif
            for (int32_t d = chunks * 4; d < A; ++d) {
                const int32_t v = x[d] + off;
                s0 += v * *wa++;
                s1 += v * *wb++;
            }
            if (p->per_channel) q = ekopt_rq_make(p->mult[u], p->shift[u]);
            y[u] = (int8_t)ek_clamp32(ekopt_rq_apply(s0, &q) + p->out_offset, p->act_min, p->act_max);
            if (u1 != u) {
                if (p->per_channel) q = ekopt_rq_make(p->mult[u1], p->shift[u1]);
                y[u1] = (int8_t)ek_clamp32(ekopt_rq_apply(s1, &q) + p->out_offset, p->act_min,
                                           p->act_max);
            }
        }
    }
}
