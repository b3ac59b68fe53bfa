/* UNIDIRECTIONAL_SEQUENCE_LSTM, optimized: the reference kernel's arithmetic
 * (kernels/ek_lstm.c, ek_lstm_ref.h) with the zero-point terms folded into
 * the gate biases at export time (in_bias, rec_bias: exact integers, so the
 * FC sums are unchanged) and, on cores with the DSP extension, the gate
 * matmuls four int8 products at a time, two units per pass (SXTB16 widens
 * two lanes of the weights and of the input, each input word once for both
 * units; SMLAD accumulates two products per instruction), and the gate FCs'
 * requantization in one 64-bit product (ekopt_rq_apply, as the optimized FC).
 * The activations and the state update are the reference ones. */
#include "ek_lstm_ref.h"
#include "ek_opt_requant.h"

/* sum_k w[k] * x[k] over n int8 values. */
static inline int32_t ekopt_lstm_dot(const int8_t *w, const int8_t *x, int32_t n, int32_t acc) {
    int32_t k = 0;
#if EKOPT_DSP
    for (; k + 4 <= n; k += 4) {
        const int32_t wv = ekopt_ld4(w + k), xv = ekopt_ld4(x + k);
        acc = __smlad(__sxtb16(wv), __sxtb16(xv), acc);
        acc = __smlad(ekopt_sxtb16_hi(wv), ekopt_sxtb16_hi(xv), acc);
    }
#endif
    for (; k < n; ++k) {
        acc += (int32_t)w[k] * x[k];
    }
    return acc;
}

/* Two rows at once: a[0] += w0 . x, a[1] += w1 . x (each input word widened once). */
static inline void ekopt_lstm_dot2(const int8_t *w0, const int8_t *w1, const int8_t *x,
                                   int32_t n, int32_t *a) {
    int32_t a0 = a[0], a1 = a[1], k = 0;
#if EKOPT_DSP
    for (; k + 4 <= n; k += 4) {
        const int32_t xv = ekopt_ld4(x + k);
        const int32_t x02 = __sxtb16(xv), x13 = ekopt_sxtb16_hi(xv);
        const int32_t u = ekopt_ld4(w0 + k), v = ekopt_ld4(w1 + k);
        a0 = __smlad(__sxtb16(u), x02, a0);
        a0 = __smlad(ekopt_sxtb16_hi(u), x13, a0);
        a1 = __smlad(__sxtb16(v), x02, a1);
        a1 = __smlad(ekopt_sxtb16_hi(v), x13, a1);
    }
#endif
    for (; k < n; ++k) {
        a0 += (int32_t)w0[k] * x[k];
        a1 += (int32_t)w1[k] * x[k];
    }
    a[0] = a0;
    a[1] = a1;
}

/* Requantization of a gate FC to Q3.12, saturated to int16: the reference's
 * ek_mbqm when (mult, shift) is outside the fused form's range. */
static inline int32_t ekopt_lstm_rq(int32_t acc, const ekopt_rq *q, int fused, int32_t m,
                                    int32_t s) {
    return ek_sat16(fused ? ekopt_rq_apply(acc, q) : ek_mbqm(acc, m, s));
}

/* One gate of every unit; g: the gate's row in in_bias / rec_bias. */
static void ekopt_lstm_gate(const ek_lstm_params *p, int g, const int8_t *x, const int8_t *w,
                            const int8_t *h, const int8_t *rw, int tanh_act, int16_t *gate) {
    const int32_t n_in = p->n_in, n_cell = p->n_cell;
    const int32_t *ib = p->in_bias + g * n_cell, *rb = p->rec_bias + g * n_cell;
    const int32_t im = p->in_mult[g], is = p->in_shift[g];
    const int32_t rm = p->rec_mult[g], rs = p->rec_shift[g];
    const int fi = ekopt_rq_ok(&im, &is, 1), fr = ekopt_rq_ok(&rm, &rs, 1);
    const ekopt_rq qi = ekopt_rq_make(im, is), qr = ekopt_rq_make(rm, rs);
    int32_t j = 0;
    for (; j + 2 <= n_cell; j += 2) {
        int32_t a[2] = {ib[j], ib[j + 1]}, r[2] = {rb[j], rb[j + 1]};
        ekopt_lstm_dot2(w + j * n_in, w + (j + 1) * n_in, x, n_in, a);
        ekopt_lstm_dot2(rw + j * n_cell, rw + (j + 1) * n_cell, h, n_cell, r);
        gate[j] = ek_lstm_act(ekopt_lstm_rq(a[0], &qi, fi, im, is),
                              ekopt_lstm_rq(r[0], &qr, fr, rm, rs), tanh_act);
        gate[j + 1] = ek_lstm_act(ekopt_lstm_rq(a[1], &qi, fi, im, is),
                                  ekopt_lstm_rq(r[1], &qr, fr, rm, rs), tanh_act);
    }
    for (; j < n_cell; ++j) {
        const int32_t acc = ekopt_lstm_dot(w + j * n_in, x, n_in, ib[j]);
        const int32_t racc = ekopt_lstm_dot(rw + j * n_cell, h, n_cell, rb[j]);
        gate[j] = ek_lstm_act(ekopt_lstm_rq(acc, &qi, fi, im, is),
                              ekopt_lstm_rq(racc, &qr, fr, rm, rs), tanh_act);
    }
}

void ek_lstm_s8(const ek_lstm_params *p, const int8_t *in,
                const int8_t *wi, const int8_t *wf, const int8_t *wc, const int8_t *wo,
                const int8_t *ri, const int8_t *rf, const int8_t *rc, const int8_t *ro,
                const int32_t *bi, const int32_t *bf, const int32_t *bc, const int32_t *bo,
                int8_t *h_state, int16_t *c_state, int8_t *out, int8_t *scratch) {
    const int32_t n_in = p->n_in, n_cell = p->n_cell, T = p->steps, B = p->batches;
    int16_t *gi = (int16_t *)(void *)scratch;
    int16_t *gf = gi + n_cell, *gc = gf + n_cell, *go = gc + n_cell;
    (void)bi, (void)bf, (void)bc, (void)bo;     /* folded into p->in_bias */
    for (int32_t b = 0; b < B; ++b) {
        int8_t *h = h_state + b * n_cell;
        int16_t *c = c_state + b * n_cell;
        for (int32_t t = 0; t < T; ++t) {
            const int32_t row = p->time_major ? t * B + b : b * T + t;
            const int8_t *x = in + row * n_in;
            ekopt_lstm_gate(p, 1, x, wf, h, rf, 0, gf);
            ekopt_lstm_gate(p, 0, x, wi, h, ri, 0, gi);
            ekopt_lstm_gate(p, 2, x, wc, h, rc, p->cell_tanh, gc);
            ekopt_lstm_gate(p, 3, x, wo, h, ro, 0, go);
            ek_lstm_update(p, gi, gf, gc, go, c, h, out + row * n_cell);
        }
    }
}
