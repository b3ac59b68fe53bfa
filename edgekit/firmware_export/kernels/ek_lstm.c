/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 input/output/hidden state, int16 cell
 * state, int8 weights (one scale per tensor), int32 gate biases: the integer
 * LSTM of TFLite's quantization spec as tflite_micro evaluates it.
 *
 * Per time step, with h and c the state of the previous step:
 *   gate_g = act(sat16(FC(x, W_g) + FC(h, R_g)))    g in input, forget, cell, output
 * each FC requantized to int16 Q3.12 (zero point 0; the input FC adds the
 * bias, the recurrent one has none), act = sigmoid (cell gate: tanh) on
 * Q3.12 -> Q0.15 by TFLite's interpolated 256-entry table;
 *   c = sat16(rq(f * c) + rq(i * g)), clipped to +-cell_clip when > 0
 *   h = rq(o * tanh(c)) + h_zp, the step's output.
 * The gates of all units are computed before h changes (scratch: four
 * int16 vectors of n_cell).  The states live in the generated code's static
 * state buffers; it zeroes them before every call (Keras' stateless LSTM).
 */
#include <stddef.h>

#include "ek_lstm_ref.h"

/* One gate of every unit: FC of the input step and of the hidden state. */
static void ek_lstm_gate(const ek_lstm_params *p, int g, const int8_t *x, const int8_t *w,
                         const int32_t *bias, const int8_t *h, const int8_t *rw, int tanh_act,
                         int16_t *gate) {
    const int32_t n_in = p->n_in, n_cell = p->n_cell;
    for (int32_t j = 0; j < n_cell; ++j) {
        int32_t acc = bias != NULL ? bias[j] : 0;
        const int8_t *wr = w + j * n_in;
        for (int32_t k = 0; k < n_in; ++k) {
            acc += (int32_t)wr[k] * ((int32_t)x[k] + p->in_offset);
        }
        const int32_t a = ek_sat16(ek_mbqm(acc, p->in_mult[g], p->in_shift[g]));
        int32_t racc = 0;
        const int8_t *rr = rw + j * n_cell;
        for (int32_t k = 0; k < n_cell; ++k) {
            racc += (int32_t)rr[k] * ((int32_t)h[k] + p->h_offset);
        }
        const int32_t b = ek_sat16(ek_mbqm(racc, p->rec_mult[g], p->rec_shift[g]));
        gate[j] = ek_lstm_act(a, b, tanh_act);
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
    for (int32_t b = 0; b < B; ++b) {
        int8_t *h = h_state + b * n_cell;
        int16_t *c = c_state + b * n_cell;
        for (int32_t t = 0; t < T; ++t) {
            const int32_t row = p->time_major ? t * B + b : b * T + t;
            const int8_t *x = in + row * n_in;
            ek_lstm_gate(p, 1, x, wf, bf, h, rf, 0, gf);
            ek_lstm_gate(p, 0, x, wi, bi, h, ri, 0, gi);
            ek_lstm_gate(p, 2, x, wc, bc, h, rc, p->cell_tanh, gc);
            ek_lstm_gate(p, 3, x, wo, bo, h, ro, 0, go);
            ek_lstm_update(p, gi, gf, gc, go, c, h, out + row * n_cell);
        }
    }
}
