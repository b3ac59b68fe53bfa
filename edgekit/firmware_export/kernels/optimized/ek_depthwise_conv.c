/* edgekit: DEPTHWISE_CONV_2D, int8, per-channel filters 1 x H x W x (C*M).
 *
 * Optimized version of kernels/ek_depthwise_conv.c: same function, same
 * results bit for bit (exact int32 sums in any order; requantization per
 * output as ek_mbqm, see ekopt_rq_apply).
 *
 * Fast path (depth multiplier 1, no dilation): channels are contiguous in
 * both the input (NHWC) and the filter (HWC), so four channels are done at
 * once.  The loop runs over groups of four channels outside and output
 * pixels inside, so per group the biases, the requantization constants and
 * the filter taps are prepared once:
 *   - on DSP cores the taps are sign-extended once into a small stack table
 *     (two words per tap: channels 0,2 and 1,3 as halfword pairs); per tap
 *     and pixel that leaves one input LDR, two SXTAB16 (which also add the
 *     input offset), one LDRD of the tap and four SMLAxy;
 *   - elsewhere the same loop runs in plain C on the int8 taps.
 * The window of each pixel is clipped to the input once (padding taps are
 * skipped, as in the reference).
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_depthwise_conv_ref.h"

#if EKOPT_DSP
#define EKOPT_DW_MAXTAPS 64  /* filter taps (f_h * f_w) in the stack table */

/* One tap for four channels: input word at X (plus offset), taps T[0..1]. */
#define EKOPT_DW_TAP(X, T)                                                      \
    do {                                                                        \
        const int32_t ekx_ = ekopt_ld4(X);                                      \
        const int32_t ekx02_ = __sxtab16(off2, ekx_);                           \
        const int32_t ekx13_ = ekopt_sxtab16_hi(off2, ekx_);                    \
        s0 = __smlabb(ekx02_, (T)[0], s0);                                      \
        s2 = __smlatt(ekx02_, (T)[0], s2);                                      \
        s1 = __smlabb(ekx13_, (T)[1], s1);                                      \
        s3 = __smlatt(ekx13_, (T)[1], s3);                                      \
    } while (0)
#endif

/* Requantize, add the output zero point, clamp (o = {out_offset, act_min, act_max}). */
static inline int8_t ekopt_out(const int32_t *o, int32_t acc, const ekopt_rq *q) {
    return (int8_t)ek_clamp32(ekopt_rq_apply(acc, q) + o[0], o[1], o[2]);
}

/* Channels c .. c + n - 1 (n <= 4) of every output pixel.  n < 4 only for
 * the last group when in_c is not a multiple of 4: that group runs the
 * scalar loop. */
static void ekopt_dw_group(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                           const int32_t *bias, int8_t *out, int32_t c, int32_t n) {
    const int32_t C = p->in_c, in_row = p->in_w * C, f_row = p->f_w * C;
    const int32_t off = p->in_offset;
    const int32_t o[3] = {p->out_offset, p->act_min, p->act_max};
    ekopt_rq q[4];
    int32_t bs[4] = {0, 0, 0, 0};
    for (int32_t j = 0; j < n; ++j) {
        q[j] = ekopt_rq_make(p->mult[c + j], p->shift[c + j]);
        bs[j] = bias ? bias[c + j] : 0;
    }
#if EKOPT_DSP
    /* Filter taps of the four channels, extended once: tap t is
     * tw[2t] = (w0, w2), tw[2t + 1] = (w1, w3). */
    int32_t tw[2 * EKOPT_DW_MAXTAPS];
    const int dsp = n == 4 && p->f_h * p->f_w <= EKOPT_DW_MAXTAPS;
    if (dsp) {
        for (int32_t t = 0; t < p->f_h * p->f_w; ++t) {
            const int32_t w = ekopt_ld4(filter + (int64_t)t * C + c);
            tw[2 * t] = __sxtb16(w);
            tw[2 * t + 1] = ekopt_sxtb16_hi(w);
        }
    }
    const int32_t off2 = ekopt_off2(off);
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = ek_max32(0, -iy0), fy1 = ek_min32(p->f_h, p->in_h - iy0);
            int8_t *y = out + (((int64_t)b * p->out_h + oy) * p->out_w) * C + c;
            for (int32_t ox = 0; ox < p->out_w; ++ox, y += C) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ek_max32(0, -ix0), fx1 = ek_min32(p->f_w, p->in_w - ix0);
                /* First valid tap of the window. */
                const int8_t *xw = in + (((int64_t)b * p->in_h + iy0 + fy0) * p->in_w + ix0 + fx0) * C + c;
                int32_t s0 = bs[0], s1 = bs[1], s2 = bs[2], s3 = bs[3];
#if EKOPT_DSP
                if (dsp) {
                    const int32_t *tr = tw + 2 * (fy0 * p->f_w + fx0);
                    for (int32_t fy = fy0; fy < fy1; ++fy, xw += in_row, tr += 2 * p->f_w) {
                        const int8_t *xp = xw;
                        const int32_t *tp = tr;
                        if (fx1 - fx0 == 3) {
                            /* Whole 3-wide filter row: unrolled. */
                            EKOPT_DW_TAP(xp, tp);
                            EKOPT_DW_TAP(xp + C, tp + 2);
                            EKOPT_DW_TAP(xp + 2 * C, tp + 4);
                            continue;
                        }
                        for (int32_t fx = fx0; fx < fx1; ++fx, xp += C, tp += 2) {
                            EKOPT_DW_TAP(xp, tp);
                        }
                    }
                    y[0] = ekopt_out(o, s0, &q[0]);
                    y[1] = ekopt_out(o, s1, &q[1]);
                    y[2] = ekopt_out(o, s2, &q[2]);
                    y[3] = ekopt_out(o, s3, &q[3]);
                    continue;
                }
#endif
                if (n == 4) {
                    const int8_t *fw = filter + ((int64_t)fy0 * p->f_w + fx0) * C + c;
                    for (int32_t fy = fy0; fy < fy1; ++fy, xw += in_row, fw += f_row) {
                        const int8_t *xp = xw, *fp = fw;
                        for (int32_t fx = fx0; fx < fx1; ++fx, xp += C, fp += C) {
                            s0 += (xp[0] + off) * fp[0];
                            s1 += (xp[1] + off) * fp[1];
                            s2 += (xp[2] + off) * fp[2];
                            s3 += (xp[3] + off) * fp[3];
                        }
                    }
                    y[0] = ekopt_out(o, s0, &q[0]);
                    y[1] = ekopt_out(o, s1, &q[1]);
                    y[2] = ekopt_out(o, s2, &q[2]);
                    y[3] = ekopt_out(o, s3, &q[3]);
                    continue;
                }
                for (int32_t j = 0; j < n; ++j) {
                    int32_t s = bs[j];
                    const int8_t *xr = xw + j;
                    const int8_t *fw = filter + ((int64_t)fy0 * p->f_w + fx0) * C + c + j;
                    for (int32_t fy = fy0; fy < fy1; ++fy, xr += in_row, fw += f_row) {
                        for (int32_t fx = 0; fx < fx1 - fx0; ++fx) {
                            s += (xr[fx * C] + off) * fw[fx * C];
                        }
                    }
                    y[j] = ekopt_out(o, s, &q[j]);
                }
            }
        }
    }
}

void ek_depthwise_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                            const int32_t *bias, int8_t *out) {
    if (p->depth_multiplier != 1 || p->out_c != p->in_c || p->dil_h != 1 || p->dil_w != 1
        || !ekopt_rq_ok(p->mult, p->shift, p->out_c)) {
        ek_depthwise_conv_reference(p, in, filter, bias, out);
        return;
    }
    for (int32_t c = 0; c < p->in_c; c += 4) {
        ekopt_dw_group(p, in, filter, bias, out, c, ek_min32(4, p->in_c - c));
    }
}
