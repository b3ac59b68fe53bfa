/* edgekit: int8 kernels called by the generated model code.
 *
 * One kernel per op type, each in its own ek_<op>.c.  Tensors are NHWC,
 * filters OHWI (depthwise: 1HWC).  Every kernel takes a const parameter
 * struct that the code generator fills at export time (quantized
 * multipliers, offsets, shapes), so nothing is computed at run time that
 * could be computed offline.
 */
#ifndef EK_KERNELS_H
#define EK_KERNELS_H

#include <stdint.h>

typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t f_h, f_w, f_in_c;       /* f_in_c < in_c: grouped convolution */
    int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t depth_multiplier;       /* depthwise only */
    int32_t in_offset, out_offset, act_min, act_max;
    const int32_t *mult;            /* per output channel */
    const int32_t *shift;
    int32_t scratch_bytes;          /* CONV_2D: bytes at `scratch` (the paths they allow) */
} ek_conv_params;

/* scratch: Lowered.scratch bytes (ops/conv.py), 4-byte aligned, this call
 * only: the optimized kernel's im2col buffer, and the output buffer that
 * lets a 1x1 convolution (stride 1, no padding, out_c <= in_c) write over
 * its input (out == in). */
void ek_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                  const int32_t *bias, int8_t *out, int8_t *scratch);
/* scratch: ek_depthwise_scratch_bytes (ops/depthwise_conv.py), 4-byte aligned; with it the
 * output may be the input buffer when depth_multiplier == 1 and out_h * out_w <= in_h * in_w. */
void ek_depthwise_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                            const int32_t *bias, int8_t *out, int8_t *scratch);
typedef struct {
    int32_t batches, in_h, in_w, c, out_h, out_w;
    int32_t f_h, f_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} ek_pool_params;

void ek_avg_pool_s8(const ek_pool_params *p, const int8_t *in, int8_t *out);
void ek_max_pool_s8(const ek_pool_params *p, const int8_t *in, int8_t *out);

typedef struct {
    int32_t batches, accum, units;
    int32_t in_offset, filter_offset, out_offset, act_min, act_max;
    int32_t per_channel;            /* 1: mult/shift have `units` entries */
    const int32_t *mult;
    const int32_t *shift;
    /* NULL, or the generator's requantization constants {clo, chi, mult,
     * rs1} (kernels/optimized/ek_opt_requant.h, ekopt_rq2 with the output
     * offset folded) of every unit (per_channel) or of all: given when every
     * unit's multiplier and shift allow it.  The optimized kernel's; the
     * others ignore it. */
    const int32_t *rq;
} ek_fc_params;

void ek_fully_connected_s8(const ek_fc_params *p, const int8_t *in, const int8_t *filter,
                           const int32_t *bias, int8_t *out);

typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} ek_softmax_params;

void ek_softmax_s8(const ek_softmax_params *p, const int8_t *in, int8_t *out);

/* Elementwise ADD/SUB with broadcasting over up to 6 dims (shapes padded to 6). */
typedef struct {
    int32_t size;                   /* output elements */
    int32_t broadcast;              /* 0: same shape, flat loop */
    int32_t out_shape[6];
    int32_t in1_strides[6], in2_strides[6];  /* 0 where the dim is broadcast */
    int32_t in1_offset, in2_offset, out_offset, left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift;
    int32_t act_min, act_max;
    int32_t subtract;               /* 1: SUB (out = in1 - in2), as TFLite's Sub rounds */
} ek_add_params;

void ek_add_s8(const ek_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* ADD/SUB of an activation and a constant repeating with period cols
 * (ops/add.py const_operand, kernels/ek_add_const.c): terms[c] is twice the
 * constant's rescaled value (negated for SUB x - c), computed at generation
 * time; the _half variant is for an input whose multiplier is exactly 0.5. */
typedef struct {
    int32_t rows, cols;
    int32_t in_offset21, in_mult, in_add, in_rsh;   /* not read by _half */
    int32_t out_mult, out_add, out_rsh, act_min, act_max;
    const int32_t *terms;           /* cols values */
} ek_add_const_params;

void ek_add_const_s8(const ek_add_const_params *p, const int8_t *in, int8_t *out);
void ek_add_const_half_s8(const ek_add_const_params *p, const int8_t *in, int8_t *out);

typedef struct {
    int32_t outer, reduce, inner;   /* input viewed as [outer, reduce, inner] */
    int32_t in_zp, out_zp;
    int32_t mult, shift;            /* already folded with 1/reduce */
} ek_mean_params;

void ek_mean_s8(const ek_mean_params *p, const int8_t *in, int8_t *out);

/* Elementwise MUL with broadcasting (same index scheme as ek_add_params). */
typedef struct {
    int32_t size;
    int32_t broadcast;
    int32_t out_shape[6];
    int32_t in1_strides[6], in2_strides[6];
    int32_t in1_offset, in2_offset, out_offset;
    int32_t out_mult, out_shift, act_min, act_max;
} ek_mul_params;

void ek_mul_s8(const ek_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* MUL of an activation by a constant repeating with period cols (ops/mul_const.py,
 * kernels/ek_mul_const.c): terms[c] is the constant's zero-point-corrected code. */
typedef struct {
    int32_t rows, cols, in_offset, mult, add, rsh, act_min, act_max;
    const int32_t *terms;
} ek_mul_const_params;

void ek_mul_const_s8(const ek_mul_const_params *p, const int8_t *in, int8_t *out);

/* CONCATENATION: the input viewed as [outer, block_i] per input. */
#define EK_CONCAT_MAX_INPUTS 8
typedef struct {
    int32_t outer, num_inputs;
    int32_t block[EK_CONCAT_MAX_INPUTS];  /* elements of input i per outer step */
} ek_concat_params;

void ek_concat_s8(const ek_concat_params *p, const int8_t *in0, const int8_t *in1,
                  const int8_t *in2, const int8_t *in3, const int8_t *in4, const int8_t *in5,
                  const int8_t *in6, const int8_t *in7, int8_t *out);

/* PAD / PADV2 over 6 dims. */
typedef struct {
    int32_t size;                   /* output elements */
    int32_t in_shape[6], out_shape[6], before[6];
    int32_t value;                  /* quantized pad value */
} ek_pad_params;

void ek_pad_s8(const ek_pad_params *p, const int8_t *in, int8_t *out);

/* RELU / RELU6 / LEAKY_RELU. */
typedef struct {
    int32_t size;
    int32_t requantize;             /* 0: clamp raw values (RELU6) */
    int32_t in_zp, out_zp;
    int32_t pos_mult, pos_shift;    /* x >= in_zp */
    int32_t neg_mult, neg_shift;    /* x < in_zp (LEAKY_RELU: alpha folded in) */
    int32_t act_min, act_max;
} ek_relu_params;

void ek_relu_s8(const ek_relu_params *p, const int8_t *in, int8_t *out);

/* LEAKY_RELU, int8 and int16 (ek_leaky_relu.c): per element, x - in_zp
 * times the identity's multiplier (>= 0) or the slope's (< 0), + out_zp,
 * clamped to the type.  The output may be the input buffer. */
typedef struct {
    int32_t size, in_zp, out_zp;
    int32_t id_mult, id_shift, alpha_mult, alpha_shift;
} ek_leaky_relu_params;

void ek_leaky_relu_s8(const ek_leaky_relu_params *p, const int8_t *in, int8_t *out);
void ek_leaky_relu_s16(const ek_leaky_relu_params *p, const int16_t *in, int16_t *out);

/* TRANSPOSE_CONV (ek_transpose_conv.c): ek_conv_params of the transposed
 * convolution (in_* its input, out_* its output, pad_* TFLM's padding of
 * the output); filter [out_c, f_h, f_w, in_c].  int8: int32 bias; int16
 * (16x8): int64 bias, zero points 0. */
void ek_transpose_conv_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                          const int32_t *bias, int8_t *out);
void ek_transpose_conv_s16(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                           const int64_t *bias, int16_t *out);

/* LOGISTIC (output scale 1/256, zero point -128). */
typedef struct {
    int32_t size, in_zp, in_mult, in_shift, range_radius;
} ek_logistic_params;

void ek_logistic_s8(const ek_logistic_params *p, const int8_t *in, int8_t *out);

/* TANH (output scale 1/128, zero point 0). */
typedef struct {
    int32_t size, in_zp, in_mult, in_shift, range_radius;
} ek_tanh_params;

void ek_tanh_s8(const ek_tanh_params *p, const int8_t *in, int8_t *out);

/* HARD_SWISH: 16-bit multipliers (TFLite's quantized hard-swish). */
typedef struct {
    int32_t size, in_zp, out_zp;
    int32_t out_mult16, out_shift;  /* out_shift <= 0 */
    int32_t relu_mult16, relu_shift;
} ek_hard_swish_params;

void ek_hard_swish_s8(const ek_hard_swish_params *p, const int8_t *in, int8_t *out);

/* QUANTIZE int8 -> int8 (requantization). */
typedef struct {
    int32_t size, in_zp, out_zp, mult, shift;
} ek_requantize_params;

void ek_requantize_s8(const ek_requantize_params *p, const int8_t *in, int8_t *out);

/* QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32. */
typedef struct {
    int32_t size, zp;
    int32_t scale_bits;             /* the float32 scale's bit pattern */
} ek_fquant_params;

void ek_quantize_f32_s8(const ek_fquant_params *p, const float *in, int8_t *out);
void ek_dequantize_s8_f32(const ek_fquant_params *p, const int8_t *in, float *out);

/* TRANSPOSE / STRIDED_SLICE: out[i0..i5] = in[base + sum(i_d * step[d])]. */
typedef struct {
    int32_t size, elem_size;        /* output elements; bytes per element: 1, 2 or 4 */
    int32_t base;
    int32_t shape[6], step[6];      /* output shape; input element step per output dim */
} ek_strided_copy_params;

void ek_strided_copy(const ek_strided_copy_params *p, const void *in, void *out);

/* BATCH_MATMUL int8 (adj_x / adj_y folded into the strides). */
typedef struct {
    int32_t batches, rows, cols, depth;
    int32_t batch_shape[4], lhs_batch_stride[4], rhs_batch_stride[4];
    int32_t lhs_row_stride, lhs_depth_stride, rhs_depth_stride, rhs_col_stride;
    int32_t lhs_offset, rhs_offset, out_offset, out_mult, out_shift;
} ek_batch_matmul_params;

void ek_batch_matmul_s8(const ek_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *out);

/* SQUARED_DIFFERENCE (uses the ADD parameter block). */
void ek_squared_difference_s8(const ek_add_params *p, const int8_t *in1, const int8_t *in2,
                              int8_t *out);

/* Table-driven int8 -> int8 elementwise ops (RSQRT): 256 int8 packed in 64 words. */
typedef struct {
    int32_t size;
    const int32_t *lut;
} ek_lut_params;

void ek_rsqrt_s8(const ek_lut_params *p, const int8_t *in, int8_t *out);
/* ADD / MUL of a scalar constant (ops/const_lut.py), same table layout. */
void ek_lut_s8(const ek_lut_params *p, const int8_t *in, int8_t *out);

/* One step of an int8 LIF layer, fused from its ADD/MUL chain (ops/lif.py):
 * v = ADD(in1, in2) (or in1 when !has_prev); spike = v >= v_on;
 * r = MUL(v, reset factor of the spike); next = MUL(r, decay) (or r).
 * ek_lif_s8, the fast form: the leak by rounding high products (ek_rq_x2 of
 * (x << f_pre) + f_off, then of twice the sum), checked on all input pairs at
 * export time; the next membrane by next_lut (256 int8 codes by v + 128, four
 * per little-endian word).  ek_lif_exact_s8 computes every stage with the ADD
 * and MUL arithmetic, for the layers whose leak fails that check: two kernels,
 * so that a model links (and stores the parameters of) only the one it uses. */
typedef struct {
    int32_t size, has_prev, has_next;
    int32_t v_on, s_on, s_off, v_act_min, v_act_max;
    int32_t f_pre1, f_off1, f_m1, f_add1, f_rsh1, f_pre2, f_off2, f_m2, f_add2, f_rsh2;
    int32_t f_mo, f_ao, f_ro;
    int32_t f_half;                 /* 1 or 2: that input is (x << 19) + hoff, the other one
                                     * (x << 21) with the f_*1 fields, f_add1 holding
                                     * hoff << f_rsh1; v needs no clamp */
    const int32_t *next_lut;
} ek_lif_params;

void ek_lif_s8(const ek_lif_params *p, const int8_t *in1, const int8_t *in2, int8_t *spikes,
               int8_t *next);

typedef struct {
    int32_t size, has_prev, has_next, has_decay;
    int32_t v_on, s_on, s_off;
    int32_t v_in1_offset, v_in2_offset, v_left_shift, v_in1_mult, v_in1_shift;
    int32_t v_in2_mult, v_in2_shift, v_out_mult, v_out_shift, v_out_offset;
    int32_t v_act_min, v_act_max;
    int32_t r_in_offset, r_mult, r_shift, r_out_offset, r_act_min, r_act_max;
    int32_t r_on_term, r_off_term;
    int32_t dr_in_offset, dr_mult, dr_shift, dr_out_offset, dr_act_min, dr_act_max, dr_term;
} ek_lif_exact_params;

void ek_lif_exact_s8(const ek_lif_exact_params *p, const int8_t *in1, const int8_t *in2,
                     int8_t *spikes, int8_t *next);

/* Every step of an int8 LIF layer (ops/lif_layer.py): in and spikes are
 * [steps][channels] (spike codes -128 / 127); per channel, from m = 0:
 * x2 = m + cur_lut[x_t & 255]; u = usat8((x2 * mo rounded high + ao
 * + (x2 < 0 ? -1 : 0)) >> ro) (the membrane code + 128);
 * spike = sat8(spike_k + 256 * u); m = mem_lut[u].  Tables of 256 int32:
 * the leak ADD's rescaled inputs, doubled (cur_lut by the input's low byte). */
typedef struct {
    int32_t channels, steps, mo, ao, ro, spike_k;
    const int32_t *cur_lut, *mem_lut;
} ek_lif_layer_params;

void ek_lif_layer_s8(const ek_lif_layer_params *p, const int8_t *in, int8_t *spikes);

/* One LIF step with a leak (a streaming call; ops/lif_layer.py step_params):
 * x2 = in1_lut[in1[i] & 255] + in2_lut[in2[i] & 255], u as in
 * ek_lif_layer_s8, spike = sat8(spike_k + 256 * u), next[i] = byte u of
 * next_lut (next NULL: no reset). */
typedef struct {
    int32_t size, mo, ao, ro, spike_k;
    const int32_t *in1_lut, *in2_lut, *next_lut;
} ek_lif_step_params;

void ek_lif_step_s8(const ek_lif_step_params *p, const int8_t *in1, const int8_t *in2,
                    int8_t *spikes, int8_t *next);

/* The same two kernels with int16 tables (two to a word) whose sums need no
 * requantization: u = usat8((a + b) >> sh) (found at export, ops/lif_layer.py
 * int16_tables, and checked on every pair of codes). */
typedef struct {
    int32_t channels, steps, sh, spike_k;
    const int32_t *cur_lut, *mem_lut;
} ek_lif_layer16_params;

void ek_lif_layer16_s8(const ek_lif_layer16_params *p, const int8_t *in, int8_t *spikes);

typedef struct {
    int32_t size, sh, spike_k;
    const int32_t *in1_lut, *in2_lut, *next_lut;
} ek_lif_step16_params;

void ek_lif_step16_s8(const ek_lif_step16_params *p, const int8_t *in1, const int8_t *in2,
                      int8_t *spikes, int8_t *next);

/* A LIF layer with the int8 ADD of a and b and K per-channel ADD/MUL
 * stages in front of it (ops/lif_bn.py; ek_lif_bn<K>[h]_<shifted>_s8): a_lut, b_lut
 * (u = usat8((a_lut[a] + b_lut[b] + head_add) >> head_sh)), cur_lut,
 * mem_lut int16 tables (two to a word), pq per stage [channels][P, Q] (or
 * [channels][Q]: an ADD stage, P = 2^20), rq [K][m, add, rsh]. */
typedef struct {
    int32_t channels, steps, spike_k, head_sh, head_add;
    const int32_t *a_lut, *b_lut, *cur_lut, *mem_lut, *pq, *rq;
} ek_lif_bn_params;

#define EK_LIF_BN_DECL(name) \
    void name(const ek_lif_bn_params *p, const int8_t *a, const int8_t *b, int8_t *spikes);
EK_LIF_BN_DECL(ek_lif_bn0_0_s8)
EK_LIF_BN_DECL(ek_lif_bn0h_0_s8)
EK_LIF_BN_DECL(ek_lif_bn1_0_s8)
EK_LIF_BN_DECL(ek_lif_bn1_1_s8)
EK_LIF_BN_DECL(ek_lif_bn1h_0_s8)
EK_LIF_BN_DECL(ek_lif_bn1h_1_s8)
EK_LIF_BN_DECL(ek_lif_bn2_0_s8)
EK_LIF_BN_DECL(ek_lif_bn2_1_s8)
EK_LIF_BN_DECL(ek_lif_bn2_2_s8)
EK_LIF_BN_DECL(ek_lif_bn2_3_s8)
EK_LIF_BN_DECL(ek_lif_bn2h_0_s8)
EK_LIF_BN_DECL(ek_lif_bn2h_1_s8)
EK_LIF_BN_DECL(ek_lif_bn2h_2_s8)
EK_LIF_BN_DECL(ek_lif_bn2h_3_s8)
EK_LIF_BN_DECL(ek_lif_bn3_0_s8)
EK_LIF_BN_DECL(ek_lif_bn3_1_s8)
EK_LIF_BN_DECL(ek_lif_bn3_2_s8)
EK_LIF_BN_DECL(ek_lif_bn3_3_s8)
EK_LIF_BN_DECL(ek_lif_bn3_4_s8)
EK_LIF_BN_DECL(ek_lif_bn3_5_s8)
EK_LIF_BN_DECL(ek_lif_bn3_6_s8)
EK_LIF_BN_DECL(ek_lif_bn3_7_s8)
EK_LIF_BN_DECL(ek_lif_bn3h_0_s8)
EK_LIF_BN_DECL(ek_lif_bn3h_1_s8)
EK_LIF_BN_DECL(ek_lif_bn3h_2_s8)
EK_LIF_BN_DECL(ek_lif_bn3h_3_s8)
EK_LIF_BN_DECL(ek_lif_bn3h_4_s8)
EK_LIF_BN_DECL(ek_lif_bn3h_5_s8)
EK_LIF_BN_DECL(ek_lif_bn3h_6_s8)
EK_LIF_BN_DECL(ek_lif_bn3h_7_s8)

/* ADD with one input (few) of a few codes (ops/code_add.py): out =
 * ssat8((f_lut[(few & 255) >> fsh] + d_lut[dense & 255] + add) >> sh),
 * int16 tables (two to a word); ek_code_add_s8 for add 0. */
typedef struct {
    int32_t size, sh, add, fsh;
    const int32_t *f_lut, *d_lut;
} ek_code_add_params;

void ek_code_add_s8(const ek_code_add_params *p, const int8_t *few, const int8_t *dense,
                    int8_t *out);
void ek_code_addc_s8(const ek_code_add_params *p, const int8_t *few, const int8_t *dense,
                     int8_t *out);

/* ADD of two spike tensors (ops/spike_add.py), size a multiple of 4: per
 * word, m_k = 255 * (((v_k ^ non_k) & b_k) >> sh_k) (0xFF at the on code),
 * out = y00 ^ (m1 & d1) ^ (m2 & d2) ^ (m1 & m2 & d3). */
typedef struct {
    int32_t size, sh1, sh2;
    int32_t non1, b1, non2, b2, y00, d1, d2, d3;     /* 32-bit words */
} ek_spike_add_params;

void ek_spike_add_s8(const ek_spike_add_params *p, const int8_t *in1, const int8_t *in2,
                     int8_t *out);

/* FULLY_CONNECTED (or 1x1 CONV_2D) whose input is a spike tensor: every input
 * code is off_code or on_code (passes/spike_sparse.py proves it; ops/spike_fc.py
 * lowers it).  acc[u] = bias[u] + delta * (sum of wt[d][u] over the inputs d at
 * on_code), bias folded with the off code's contribution; then the dense
 * kernel's requantization.  wt: the weights transposed, [accum, units]. */
typedef struct {
    int32_t batches, accum, units;
    int32_t on_code, delta;
    int32_t out_offset, act_min, act_max;
    int32_t per_channel;            /* 1: mult/shift/rq_add have `units` entries */
    int32_t fast_rq;                /* 1: requantize with one rounding high product */
    const int32_t *bias;            /* folded, `units` entries (fast_rq: twice that) */
    const int32_t *mult;
    const int32_t *shift;           /* fast_rq: the right shift e, else -e */
    const int32_t *rq_add;          /* fast_rq: 2^(e-1) + ((out_offset - act_min) << e) */
    /* fast_rq and per_channel: these four per unit in rows (bias, mult, rq_add,
     * shift) instead of the four arrays */
    const int32_t *chan;
} ek_spike_fc_params;

/* scratch: 4 * (accum + units) bytes (one row's active inputs and sums), 4-byte aligned. */
void ek_spike_fc_s8(const ek_spike_fc_params *p, const int8_t *in, const int8_t *wt,
                    int8_t *out, int8_t *scratch);

/* DEPTHWISE_CONV_2D over time (one column, K taps, depth multiplier M, stride 1,
 * VALID) whose input is a spike tensor (ops/spike_dw.py):
 * acc[t][c] = bias[c] + delta * (sum of w[p][c] over the taps p with
 * in[t + p][c / M] at on_code), then the dense kernel's requantization.
 * w: the filter as in the file, [K, in_c * M]; units = in_c * M.  The
 * first pad of the in_h rows are not in `in` (a causal PAD folded in,
 * passes/spike_pad.py): they hold the off code. */
typedef struct {
    int32_t in_h, in_c, depth_mult, k, out_h, units, pad;
    int32_t on_code, delta;
    int32_t out_offset, act_min, act_max;
    int32_t fast_rq;        /* 1: requantize with one rounding high product */
    /* per channel: bias (folded), multiplier, then fast_rq: rounding add and
     * right shift (ek_spike_fc_params' rq_add, -shift); else shift, 0 */
    const int32_t *chan;
} ek_spike_dw_params;

/* scratch: 4 * (units + k) + 2 * in_c * (2 + in_h) + units bytes, 4-byte aligned. */
void ek_spike_dw_s8(const ek_spike_dw_params *p, const int8_t *in, const int8_t *w,
                    int8_t *out, int8_t *scratch);

/* int16 activations (TFLite 16x8): int8 weights, int64 bias, zero points 0. */
void ek_fully_connected_s16(const ek_fc_params *p, const int16_t *in, const int8_t *filter,
                            const int64_t *bias, int16_t *out);
void ek_conv2d_s16(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                   const int64_t *bias, int16_t *out);
void ek_add_s16(const ek_add_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);

/* SOFTMAX int16 -> int16 (TFLite 16x8; output scale 1/32768, zero points 0):
 * exp and 1/(1+x) by interpolated 513-entry tables (int16, two per word). */
typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift;
    const int32_t *exp_lut;
    const int32_t *recip_lut;
} ek_softmax_s16_params;

void ek_softmax_s16(const ek_softmax_s16_params *p, const int16_t *in, int16_t *out);

/* QUANTIZE between int8, uint8 and int16 (ek_requantize_params). */
void ek_requantize_s16_s8(const ek_requantize_params *p, const int16_t *in, int8_t *out);
void ek_requantize_s8_s16(const ek_requantize_params *p, const int8_t *in, int16_t *out);
void ek_requantize_s16_s16(const ek_requantize_params *p, const int16_t *in, int16_t *out);
void ek_requantize_u8_s8(const ek_requantize_params *p, const uint8_t *in, int8_t *out);
void ek_requantize_s8_u8(const ek_requantize_params *p, const int8_t *in, uint8_t *out);
void ek_quantize_f32_s16(const ek_fquant_params *p, const float *in, int16_t *out);
void ek_dequantize_s16_f32(const ek_fquant_params *p, const int16_t *in, float *out);

/* More int16-activation (16x8) kernels, with the int8 kernels' parameter blocks. */
void ek_depthwise_conv2d_s16(const ek_conv_params *p, const int16_t *in, const int8_t *filter,
                             const int64_t *bias, int16_t *out);
void ek_avg_pool_s16(const ek_pool_params *p, const int16_t *in, int16_t *out);
void ek_max_pool_s16(const ek_pool_params *p, const int16_t *in, int16_t *out);
void ek_mul_s16(const ek_mul_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void ek_mean_s16(const ek_mean_params *p, const int16_t *in, int16_t *out);
void ek_pad_s16(const ek_pad_params *p, const int16_t *in, int16_t *out);
void ek_concat_s16(const ek_concat_params *p, const int16_t *in0, const int16_t *in1,
                   const int16_t *in2, const int16_t *in3, const int16_t *in4, const int16_t *in5,
                   const int16_t *in6, const int16_t *in7, int16_t *out);
void ek_batch_matmul_s16(const ek_batch_matmul_params *p, const int16_t *lhs,
                         const int16_t *rhs, int16_t *out);

/* LOGISTIC / TANH int16 -> int16 (output scale 2^-15): input rescale
 * (x * input_multiplier + round) >> input_left_shift, then the 256-entry
 * sigmoid(k/24) table, unsigned Q0.16, two entries a word. */
typedef struct {
    int32_t size, input_multiplier, input_left_shift;
    const int32_t *lut;
} ek_lut16_act_params;

void ek_logistic_s16(const ek_lut16_act_params *p, const int16_t *in, int16_t *out);
void ek_tanh_s16(const ek_lut16_act_params *p, const int16_t *in, int16_t *out);

/* UNIDIRECTIONAL_SEQUENCE_LSTM (ek_lstm.c): int8 input, output and hidden
 * state, int16 cell state (scale 2^-cell_power), int8 weights [n_cell, n_in]
 * and [n_cell, n_cell] per gate (i, f, c, o), int32 biases.  Gate g's FCs
 * requantize to Q3.12 by (in_mult[g], in_shift[g]) and (rec_mult[g],
 * rec_shift[g]).  scratch: 8 * n_cell bytes, 2-byte aligned. */
typedef struct {
    int32_t batches, steps, n_in, n_cell, time_major;
    int32_t in_offset, h_offset;             /* minus the input / hidden zero points */
    int32_t in_mult[4], in_shift[4], rec_mult[4], rec_shift[4];
    int32_t cell_tanh;                       /* cell gate: 1 tanh, 0 sigmoid */
    int32_t fc_mult, fc_shift;               /* forget gate * cell -> cell */
    int32_t ic_mult, ic_shift;               /* input gate * cell gate -> cell */
    int32_t h_mult, h_shift, h_zp;           /* output gate * tanh(cell) -> hidden */
    int32_t tanh_mult, tanh_rshift;          /* cell -> tanh table index */
    int32_t cell_clip;                       /* 0: none */
    /* [4][n_cell] (gates i, f, c, o), for the optimized kernel: the input
     * FC's bias + in_offset * row sum of W, and h_offset * row sum of R. */
    const int32_t *in_bias;
    const int32_t *rec_bias;
} ek_lstm_params;

void ek_lstm_s8(const ek_lstm_params *p, const int8_t *in,
                const int8_t *wi, const int8_t *wf, const int8_t *wc, const int8_t *wo,
                const int8_t *ri, const int8_t *rf, const int8_t *rc, const int8_t *ro,
                const int32_t *bi, const int32_t *bf, const int32_t *bc, const int32_t *bo,
                int8_t *h_state, int16_t *c_state, int8_t *out, int8_t *scratch);

#endif /* EK_KERNELS_H */
