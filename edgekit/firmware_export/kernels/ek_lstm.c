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
 * int16 vectors of n_cell).  The states persist between calls: the code
 * generator keeps them in static buffers (edgekit_reset sets them to zero).
 */
#include <stddef.h>

#include "ek_fixedpoint.h"
#include "ek_kernels.h"

/* sigmoid(i / 24) in 0.16 fixed point, i = 0..255 (TFLite's table, shared by
 * its int16 LOGISTIC and TANH: tanh(x) = 2 sigmoid(2x) - 1). */
static const uint16_t ek_sigmoid_u16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535
};

static inline int16_t ek_sat16(int32_t x) {
    return (int16_t)ek_clamp32(x, -32768, 32767);
}

/* int16 LOGISTIC of a Q3.12 value (scaled by 3: the table step is 1/24). */
static inline int16_t ek_lstm_sigmoid(int32_t x) {
    const int32_t v = x * 3;
    const uint32_t a = (uint32_t)(v < 0 ? -v : v);
    const uint32_t hi = a >> 9;
    uint32_t r;
    if (hi >= 255u) {
        r = 0x7FFFu << 10;
    } else {
        const uint32_t lo = ek_sigmoid_u16[hi], up = ek_sigmoid_u16[hi + 1u];
        r = (lo << 9) + (a & 0x1FFu) * (up - lo);
    }
    r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
    return (int16_t)(r >> 10);
}

/* int16 TANH of (x * mult + round) >> rshift, the table index in 1/256 steps. */
static inline int16_t ek_lstm_tanh(int32_t x, int32_t mult, int32_t rshift) {
    const int32_t round = rshift > 0 ? (1 << (rshift - 1)) : 0;
    const int32_t v = (x * mult + round) >> rshift;
    const uint32_t a = (uint32_t)(v < 0 ? -v : v);
    const uint32_t hi = a >> 8;
    int32_t r;
    if (hi >= 255u) {
        r = (int32_t)(0xFFFFu << 8);
    } else {
        const uint32_t lo = ek_sigmoid_u16[hi], up = ek_sigmoid_u16[hi + 1u];
        r = (int32_t)((lo << 8) + (a & 0xFFu) * (up - lo));
    }
    r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(r >> 8);
}

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
        const int32_t s = ek_sat16(a + b);
        gate[j] = tanh_act ? ek_lstm_tanh(s, 3, 0) : ek_lstm_sigmoid(s);
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
            int8_t *y = out + row * n_cell;
            for (int32_t j = 0; j < n_cell; ++j) {
                int32_t cj = ek_sat16(ek_mbqm((int32_t)gf[j] * c[j], p->fc_mult, p->fc_shift));
                const int32_t ig = ek_sat16(ek_mbqm((int32_t)gi[j] * gc[j], p->ic_mult,
                                                    p->ic_shift));
                cj = ek_sat16(cj + ig);
                if (p->cell_clip > 0) {
                    cj = ek_clamp32(cj, -p->cell_clip, p->cell_clip);
                }
                c[j] = (int16_t)cj;
                const int32_t th = ek_lstm_tanh(cj, p->tanh_mult, p->tanh_rshift);
                const int32_t hv = ek_mbqm((int32_t)go[j] * th, p->h_mult, p->h_shift) + p->h_zp;
                h[j] = (int8_t)ek_clamp32(hv, -128, 127);
                y[j] = h[j];
            }
        }
    }
}
