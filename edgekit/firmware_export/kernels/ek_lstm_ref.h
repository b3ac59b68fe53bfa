/* The integer LSTM's element-wise arithmetic (TFLM's), shared by the reference
 * (kernels/ek_lstm.c) and optimized (kernels/optimized/ek_lstm.c) kernels:
 * the int16 sigmoid / tanh of TFLite and the cell and hidden state update. */
#ifndef EK_LSTM_REF_H
#define EK_LSTM_REF_H

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

/* Cell and hidden state update of every unit from the four gates (Q0.15);
 * y: this step's output row (the new hidden state). */
static inline void ek_lstm_update(const ek_lstm_params *p, const int16_t *gi, const int16_t *gf,
                                  const int16_t *gc, const int16_t *go, int16_t *c, int8_t *h,
                                  int8_t *y) {
    for (int32_t j = 0; j < p->n_cell; ++j) {
        int32_t cj = ek_sat16(ek_mbqm((int32_t)gf[j] * c[j], p->fc_mult, p->fc_shift));
        const int32_t ig = ek_sat16(ek_mbqm((int32_t)gi[j] * gc[j], p->ic_mult, p->ic_shift));
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

/* The gate's activation of the sum of its two FCs, each already requantized to Q3.12. */
static inline int16_t ek_lstm_act(int32_t a, int32_t b, int tanh_act) {
    const int32_t s = ek_sat16(a + b);
    return tanh_act ? ek_lstm_tanh(s, 3, 0) : ek_lstm_sigmoid(s);
}

#endif /* EK_LSTM_REF_H */
