/* edgekit: CONV_2D, int8 activations, int8 per-channel filters, int32 bias.
 *
 * Optimized version of kernels/ek_conv.c: same function, same results bit
 * for bit.  The int32 accumulator is an exact (wrapping) sum of products, so
 * the order of summation is free; requantization and clamping per output
 * give ek_mbqm's values (ekopt_rq_apply, or ekopt_rq2: one SMLAL).
 *
 * On cores with the DSP extension (no groups), by window size
 * K = f_h * f_w * in_c (dilated windows too: their taps are gathered one
 * by one, ekopt_col_dilated, path EKOPT_CONV_DIL; K is the whole receptive
 * field, so few input channels still give a long inner loop):
 *   - small windows (k4 <= 64) whose filter rows are not whole 4-byte
 *     chunks, output rows of >= 6 pixels, a bias and right shifts of
 *     1..22: the six-pixel path over input columns copied once per output
 *     row (ek_conv_cols.h, EKOPT_CONV_SIX_COLS; its buffer on the stack
 *     when scratch has room for neither it nor the six-pixel one,
 *     EKOPT_CONV_COLS_STACK);
 *   - K <= 288, >= 6 output pixels and every channel in ekopt_rq2's range:
 *     six-pixel im2col (int16, input offset added) + 6x1 asm micro-kernel,
 *     18 instructions per 24 MACs (ekopt_conv_dsp6; an activation range
 *     narrower than int8 clamped after it, ekopt_clamp_s8); the input zero
 *     point is not folded into the bias offline: widening the input once
 *     per pixel adds it for free;
 *   - else K <= 576: two-pixel im2col + 2x2 asm micro-kernel
 *     (ekopt_conv_dsp; with no room in scratch, a buffer of <= 1,280 bytes
 *     on the stack for windows other than 1x1, EKOPT_CONV_TWO_STACK);
 *   - else the run-based path below, with SXTAB16/SMLAD intrinsics.
 * The im2col buffer is the call's scratch memory (Lowered.scratch, sized
 * by ops/conv.py for the path the layer takes).  1x1 convolutions with
 * stride 1, no padding and out_c <= in_c may run in place (out == in):
 * every path reads a pixel group's inputs before it writes outputs over
 * them (the DSP paths widen a group into the buffer first; the plain-C
 * pair path and the reference fallback go through scratch).
 *
 * Run-based path (no groups, no dilation; every path on cores without DSP,
 * where dilated convolutions take the reference loop):
 *   - the filter window of an output pixel, clipped to the input, is a few
 *     contiguous runs: one per filter row, (fx1 - fx0) * in_c bytes long in
 *     both the input (NHWC) and the filter (OHWI);
 *   - each run is consumed by a register-blocked dot product computing two
 *     output pixels x two output channels at once (1 x 2 for a lone
 *     pixel), so every input word and filter word loaded feeds two
 *     multiply-accumulates per byte;
 *   - on cores with the DSP extension (Cortex-M4/M7/M33/M55) four int8 are
 *     loaded as one word, split in two halfword pairs with SXTB16 (the
 *     input offset is added in the same instruction by SXTAB16), and
 *     accumulated two products at a time by SMLAD.  Other cores (and the
 *     host build) run the same blocking in plain C.
 *   - 1x1 convolutions without padding are a matrix product: output pixels
 *     are paired in raster order, across row ends too.
 *
 * Only the paths ek_paths.h lists are compiled (EKOPT_USE): the code
 * generator knows which path each layer takes (ops/conv.py conv_paths
 * mirrors the choice made in ek_conv2d_s8), so a model's firmware carries
 * only the paths its layers use; a choice that ek_paths.h leaves out traps
 * (EKOPT_NOT_LISTED).
 */
#include "ek_kernels.h"
#include "ek_fixedpoint.h"
#include "ek_opt_requant.h"
#include "ek_conv_ref.h"

/* The paths without the DSP-only im2col ones, as the core runs them. */
#if EKOPT_DSP
#define EKOPT_CONV_1X1 EKOPT_USE(EKOPT_CONV_1X1_DSP)
#define EKOPT_CONV_RUN EKOPT_USE(EKOPT_CONV_RUN_DSP)
#else
#define EKOPT_CONV_1X1 EKOPT_USE(EKOPT_CONV_1X1_C)
#define EKOPT_CONV_RUN EKOPT_USE(EKOPT_CONV_RUN_C)
#endif
#define EKOPT_CONV_DSP6 (EKOPT_DSP && EKOPT_USE(EKOPT_CONV_SIX))
/* the largest window (k4 bytes) of ekopt_conv_dsp6_stack */
#define EKOPT_P6_STACK_K 48
#define EKOPT_CONV_DSP2 (EKOPT_DSP && EKOPT_USE(EKOPT_CONV_TWO))
#define EKOPT_CONV_DILATED (EKOPT_DSP && EKOPT_USE(EKOPT_CONV_DIL))

/* The column path of the six-pixel im2col (ek_conv_cols.h): the largest
 * window (k4 bytes) and reordered filter (out_c * k4 bytes, on the stack). */
#define EKOPT_COLS_K 64
#define EKOPT_COLS_W 512
#define EKOPT_COLS_C 32     /* output channels (their constants on the stack) */
/* The column path's buffer on the stack (EKOPT_CONV_COLS_STACK), at most. */
#define EKOPT_COLS_STACK 1280
#define EKOPT_KMAX 576      /* window size limit of the 2-pixel path */
/* Its buffer on the stack (EKOPT_CONV_TWO_STACK), at most. */
#define EKOPT_TWO_STACK 1280
#define EKOPT_P6_WORDS 864  /* buffer words of the 6-pixel path (3,456 bytes): K <= 288 */

#if EKOPT_DSP
/* Every channel requantizes with ekopt_rq2 (its output offset within int8):
 * the conditions of ekopt_conv_dsp6 (ek_conv_dsp6.h), which clamps to all of
 * int8 (SSAT); a narrower activation range (a fused RELU whose output zero
 * point is not -128) is applied after it by ekopt_clamp_s8. */
static inline int ekopt_dsp6_ok(const ek_conv_params *p) {
    if (p->out_offset < -128 || p->out_offset > 127) {
        return 0;
    }
    for (int32_t oc = 0; oc < p->out_c; ++oc) {
        if (!ekopt_rq2_ok(p->mult[oc], p->shift[oc])) return 0;
    }
    return 1;
}

#if EKOPT_USE(EKOPT_CONV_SIX_COLS)
/* Whether the layer may take the column path (ek_conv_cols.h; with a
 * buffer of ekopt_cols_bytes): the six-pixel path's asm channel loop over
 * a small window whose filter rows are not whole 4-byte chunks. */
static inline int ekopt_cols_ok(const ek_conv_params *p, const int32_t *bias) {
    const int32_t k4 = (p->f_h * p->f_w * p->in_c + 3) & ~3;
    if (!bias || p->dil_h != 1 || p->dil_w != 1 || !((p->f_w * p->in_c) & 3)
        || p->f_h * p->f_w == 1
        || k4 > EKOPT_COLS_K || p->out_c > EKOPT_COLS_C || p->out_c * k4 > EKOPT_COLS_W
        || p->out_w < 6 || !ekopt_dsp6_ok(p)) {
        return 0;
    }
    for (int32_t oc = 0; oc < p->out_c; ++oc) {
        if (p->shift[oc] > -1 || p->shift[oc] < -22) return 0;
    }
    return 1;
}

/* Scratch bytes of the column path: the six-pixel buffer (12 * k4), then
 * two output rows' input columns (each rounded up to 4), and 4 more (the
 * last window's last word runs up to 3 bytes past them). */
static inline int32_t ekopt_cols_bytes(const ek_conv_params *p) {
    const int32_t k4 = (p->f_h * p->f_w * p->in_c + 3) & ~3;
    const int32_t ncol = (p->out_w - 1) * p->stride_w + p->f_w;
    return 12 * k4 + 2 * ((ncol * p->f_h * p->in_c + 3) & ~3) + 4;
}
#endif
#endif

/* s[0] += xa.wa, s[1] += xa.wb, s[2] += xb.wa, s[3] += xb.wb over n bytes,
 * each x byte plus the input offset. */
static inline void ekopt_dot_2x2(const int8_t *xa, const int8_t *xb, const int8_t *wa,
                                 const int8_t *wb, int32_t n, int32_t off, int32_t off2,
                                 int32_t *s) {
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
#if EKOPT_DSP
    /* xb and wb as offsets from xa and wa (register-offset loads): fewer
     * registers for pointers, and the rotations folded into the extends. */
    const int32_t dx = (int32_t)(xb - xa), dw = (int32_t)(wb - wa);
    const int8_t *const xe = xa + (n & ~3);
    for (; xa != xe; xa += 4, wa += 4) {
        const int32_t a = ekopt_ld4(xa), b = ekopt_ld4(xa + dx);
        const int32_t a02 = __sxtab16(off2, a), a13 = ekopt_sxtab16_hi(off2, a);
        const int32_t b02 = __sxtab16(off2, b), b13 = ekopt_sxtab16_hi(off2, b);
        int32_t w = ekopt_ld4(wa);
        int32_t w02 = __sxtb16(w), w13 = ekopt_sxtb16_hi(w);
        s0 = __smlad(a02, w02, s0);
        s0 = __smlad(a13, w13, s0);
        s2 = __smlad(b02, w02, s2);
        s2 = __smlad(b13, w13, s2);
        w = ekopt_ld4(wa + dw);
        w02 = __sxtb16(w);
        w13 = ekopt_sxtb16_hi(w);
        s1 = __smlad(a02, w02, s1);
        s1 = __smlad(a13, w13, s1);
        s3 = __smlad(b02, w02, s3);
        s3 = __smlad(b13, w13, s3);
    }
    xb = xa + dx;
    wb = wa + dw;
    n &= 3;
#else
    (void)off2;
#endif
    for (int32_t i = 0; i < n; ++i) {
        const int32_t a = xa[i] + off, b = xb[i] + off;
        s0 += a * wa[i];
        s1 += a * wb[i];
        s2 += b * wa[i];
        s3 += b * wb[i];
    }
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
}

/* s[0] += x.wa, s[1] += x.wb over n bytes (one output pixel). */
static inline void ekopt_dot_1x2(const int8_t *x, const int8_t *wa, const int8_t *wb,
                                 int32_t n, int32_t off, int32_t off2, int32_t *s) {
    int32_t s0 = s[0], s1 = s[1];
#if EKOPT_DSP
    for (int32_t k = n >> 2; k > 0; --k) {
        const int32_t a = ekopt_ld4(x);
        const int32_t a02 = __sxtab16(off2, a), a13 = ekopt_sxtab16_hi(off2, a);
        const int32_t u = ekopt_ld4(wa), v = ekopt_ld4(wb);
        s0 = __smlad(a02, __sxtb16(u), s0);
        s0 = __smlad(a13, ekopt_sxtb16_hi(u), s0);
        s1 = __smlad(a02, __sxtb16(v), s1);
        s1 = __smlad(a13, ekopt_sxtb16_hi(v), s1);
        x += 4; wa += 4; wb += 4;
    }
    n &= 3;
#else
    (void)off2;
#endif
    for (int32_t i = 0; i < n; ++i) {
        const int32_t a = x[i] + off;
        s0 += a * wa[i];
        s1 += a * wb[i];
    }
    s[0] = s0; s[1] = s1;
}

static inline int8_t ekopt_out(const ek_conv_params *p, int32_t acc, const ekopt_rq *q) {
    return (int8_t)ek_clamp32(ekopt_rq_apply(acc, q) + p->out_offset, p->act_min, p->act_max);
}

#if EKOPT_CONV_1X1 || EKOPT_CONV_RUN
/* Two output pixels whose clipped windows have the same shape: xa and xb
 * point at the first input byte of each window (row fy0, column fx0), the
 * window has `rows` runs of `run` bytes, `in_row` bytes apart in the input
 * and `f_row` bytes apart in the filter; filter points at fy0, fx0 of
 * output channel 0.  ya and yb receive out_c outputs each. */
static __attribute__((noinline)) void
ekopt_conv_pair(const ek_conv_params *p, const int8_t *xa, const int8_t *xb,
                const int8_t *filter, int32_t rows, int32_t run, int32_t in_row,
                int32_t f_row, const int32_t *bias, int8_t *ya, int8_t *yb) {
    const int32_t fsz = p->f_h * p->f_w * p->f_in_c;
    const int32_t off = p->in_offset, off2 = ekopt_off2(off);
    for (int32_t oc = 0; oc < p->out_c; oc += 2) {
        /* Odd out_c: the last channel is computed twice, stored once. */
        const int32_t oc1 = oc + 1 < p->out_c ? oc + 1 : oc;
        const int8_t *wa = filter + (int64_t)oc * fsz, *wb = filter + (int64_t)oc1 * fsz;
        int32_t s[4];
        s[0] = s[2] = bias ? bias[oc] : 0;
        s[1] = s[3] = bias ? bias[oc1] : 0;
        const int8_t *ra = xa, *rb = xb;
        for (int32_t r = 0; r < rows; ++r) {
            ekopt_dot_2x2(ra, rb, wa, wb, run, off, off2, s);
            ra += in_row; rb += in_row; wa += f_row; wb += f_row;
        }
        const ekopt_rq q0 = ekopt_rq_make(p->mult[oc], p->shift[oc]);
        ya[oc] = ekopt_out(p, s[0], &q0);
        yb[oc] = ekopt_out(p, s[2], &q0);
        if (oc1 != oc) {
            const ekopt_rq q1 = ekopt_rq_make(p->mult[oc1], p->shift[oc1]);
            ya[oc1] = ekopt_out(p, s[1], &q1);
            yb[oc1] = ekopt_out(p, s[3], &q1);
        }
    }
}

/* One output pixel (same window description as ekopt_conv_pair). */
static __attribute__((noinline)) void
ekopt_conv_one(const ek_conv_params *p, const int8_t *x, const int8_t *filter,
                int32_t rows, int32_t run, int32_t in_row, int32_t f_row,
                const int32_t *bias, int8_t *y) {
    const int32_t fsz = p->f_h * p->f_w * p->f_in_c;
    const int32_t off = p->in_offset, off2 = ekopt_off2(off);
    for (int32_t oc = 0; oc < p->out_c; oc += 2) {
        const int32_t oc1 = oc + 1 < p->out_c ? oc + 1 : oc;
        const int8_t *wa = filter + (int64_t)oc * fsz, *wb = filter + (int64_t)oc1 * fsz;
        int32_t s[2];
        s[0] = bias ? bias[oc] : 0;
        s[1] = bias ? bias[oc1] : 0;
        const int8_t *r0 = x;
        for (int32_t r = 0; r < rows; ++r) {
            ekopt_dot_1x2(r0, wa, wb, run, off, off2, s);
            r0 += in_row; wa += f_row; wb += f_row;
        }
        const ekopt_rq q0 = ekopt_rq_make(p->mult[oc], p->shift[oc]);
        y[oc] = ekopt_out(p, s[0], &q0);
        if (oc1 != oc) {
            const ekopt_rq q1 = ekopt_rq_make(p->mult[oc1], p->shift[oc1]);
            y[oc1] = ekopt_out(p, s[1], &q1);
        }
    }
}

#endif /* EKOPT_CONV_1X1 || EKOPT_CONV_RUN */

#if EKOPT_CONV_1X1
/* 1x1 filter, no padding: each output pixel reads in_c contiguous bytes.
 * With tmp (2 * out_c bytes; in place: stride 1, out_c <= in_c) each pair
 * of outputs is computed there and copied over the two input pixels it
 * has just read (output pixel i lies over input pixels <= i only). */
static void ekopt_conv_1x1(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                           const int32_t *bias, int8_t *out, int8_t *tmp) {
    const int32_t c = p->in_c;
    const int32_t npix = p->out_h * p->out_w;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *img = in + (int64_t)b * p->in_h * p->in_w * c;
        int8_t *y = out + (int64_t)b * npix * p->out_c;
        int32_t oy = 0, ox = 0;
        const int8_t *xa = 0;
        for (int32_t i = 0; i < npix; ++i) {
            const int8_t *x = img + ((int64_t)oy * p->stride_h * p->in_w + (int64_t)ox * p->stride_w) * c;
            if (++ox == p->out_w) { ox = 0; ++oy; }
            if (i & 1) {
                int8_t *ya = y + (int64_t)(i - 1) * p->out_c;
                ekopt_conv_pair(p, xa, x, filter, 1, c, 0, 0, bias, tmp ? tmp : ya,
                                tmp ? tmp + p->out_c : ya + p->out_c);
                if (tmp) memcpy(ya, tmp, (size_t)(2 * p->out_c));
            } else if (i + 1 == npix) {
                int8_t *ya = y + (int64_t)i * p->out_c;
                ekopt_conv_one(p, x, filter, 1, c, 0, 0, bias, tmp ? tmp : ya);
                if (tmp) memcpy(ya, tmp, (size_t)p->out_c);
            } else {
                xa = x;
            }
        }
    }
}

#endif /* EKOPT_CONV_1X1 */

#include "ek_conv_im2col.h"  /* ekopt_col_pixel, ekopt_conv_dsp(_stack) */

#if EKOPT_CONV_DSP6
#include "ek_conv_dsp6.h"  /* ekopt_conv_dsp6 */
#include "ek_conv_cols.h"  /* ekopt_conv_cols6 */

/* Windows (not 1x1) of k4 <= EKOPT_P6_STACK_K bytes with no room for the six-pixel
 * buffer in scratch (a small model whose arena budget has none): the buffer
 * on the stack, in this function's frame only (ops/conv.py SIX_STACK_K; the
 * stack high-water mark counts it, the arena does not). */
#if EKOPT_CONV_DSP6 && EKOPT_USE(EKOPT_CONV_SIX_STACK)
static __attribute__((noinline)) void
ekopt_conv_dsp6_stack(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                      const int32_t *bias, int8_t *out) {
    int32_t buf[(12 * EKOPT_P6_STACK_K + EKOPT_P6_STACK_K) / 4];
    ekopt_conv_dsp6(p, in, filter, bias, out, buf);
}
#endif
#endif

/* The column path with its buffer (ekopt_cols_bytes <= EKOPT_COLS_STACK, an
 * array of that size) on the stack, for layers with room for neither its buffer nor the six-pixel
 * one in scratch (ops/conv.py COLS_STACK, as EKOPT_CONV_SIX_STACK). */
#if EKOPT_CONV_DSP6 && EKOPT_USE(EKOPT_CONV_SIX_COLS) && EKOPT_USE(EKOPT_CONV_SIX_CH) \
    && EKOPT_USE(EKOPT_CONV_COLS_STACK)
static __attribute__((noinline)) void
ekopt_conv_cols6_stack(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                       const int32_t *bias, int8_t *out) {
    int32_t buf[ekopt_cols_bytes(p) / 4];
    ekopt_conv_cols6(p, in, filter, bias, out, buf);
}
#endif

#if EKOPT_CONV_DSP6 && EKOPT_USE(EKOPT_CONV_SIX_CLAMP)
/* y[0..n) clamped to [lo, hi], four bytes a word (SSUB8 sets a lane's GE
 * flag where the first operand is >= the second, SEL picks by it).  After
 * ekopt_conv_dsp6's SSAT to int8, the same codes as clamping each output to
 * the activation range at once: [lo, hi] lies within int8. */
static __attribute__((noinline)) void ekopt_clamp_s8(int8_t *y, int32_t n, int32_t lo,
                                                     int32_t hi) {
    const uint32_t lo4 = 0x01010101u * (uint8_t)lo, hi4 = 0x01010101u * (uint8_t)hi;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t v;
        memcpy(&v, y + i, 4);
        (void)__ssub8(v, lo4);
        v = __sel(v, lo4);
        (void)__ssub8(hi4, v);
        v = __sel(v, hi4);
        memcpy(y + i, &v, 4);
    }
    for (; i < n; ++i) y[i] = (int8_t)ek_clamp32(y[i], lo, hi);
}
#endif

#if EKOPT_CONV_DSP6
/* After the six-pixel or the column path: an activation range narrower
 * than int8 applied to the whole output at once (ekopt_clamp_s8). */
static inline void ekopt_six_act(const ek_conv_params *p, int8_t *out) {
    if (p->act_min != -128 || p->act_max != 127) {
#if EKOPT_USE(EKOPT_CONV_SIX_CLAMP)
        ekopt_clamp_s8(out, p->batches * p->out_h * p->out_w * p->out_c, p->act_min,
                       p->act_max);
#else
        (void)out;
        EKOPT_NOT_LISTED();
#endif
    }
}
#endif

/* scratch: the bytes ops/conv.py (conv_scratch) computes for the path this
 * layer takes, 4-byte aligned.  The path is chosen as before whatever
 * ek_paths.h lists; a chosen path that it leaves out traps (the generator
 * and the kernel disagree), so no layer silently takes another path. */
void ek_conv2d_s8(const ek_conv_params *p, const int8_t *in, const int8_t *filter,
                  const int32_t *bias, int8_t *out, int8_t *scratch) {
    const int inplace = ek_conv_overlaps(p, in, out);
#if EKOPT_USE(EKOPT_CONV_DIL)
    /* A dilated layer takes an im2col path: its window gathered tap by
     * tap; the reference loop below when no buffer fits or without DSP. */
    const int dil = p->dil_h != 1 || p->dil_w != 1;
#else
    /* No dilated layer takes an im2col path: all take the reference loop. */
    const int dil = 0;
#endif
    (void)inplace, (void)scratch, (void)filter, (void)bias, (void)dil;  /* paths left out */
    if (p->f_in_c != p->in_c
        || (!EKOPT_USE(EKOPT_CONV_DIL) && (p->dil_h != 1 || p->dil_w != 1))
        || !ekopt_rq_ok(p->mult, p->shift, p->out_c)) {
#if EKOPT_USE(EKOPT_CONV_REF)
        ek_conv_reference_buf(p, in, filter, bias, out, inplace ? scratch : 0);
        return;
#else
        EKOPT_NOT_LISTED();
#endif
    }
#if EKOPT_DSP
    {
        /* Each im2col path only if scratch_bytes holds its buffer (the
         * generator may give less than conv_scratch's first choice, see
         * ops/conv.py conv_scratch_options). */
        const int32_t K = p->f_h * p->f_w * p->in_c, k4 = (K + 3) & ~3;
        const int32_t win = ((p->f_w * p->in_c) & 3) || dil ? k4 : 0;
        const int six_room = 12 * k4 + win <= p->scratch_bytes;
#if EKOPT_USE(EKOPT_CONV_SIX_COLS)
        const int cols = !dil && ekopt_cols_ok(p, bias);
        const int32_t cols_bytes = cols ? ekopt_cols_bytes(p) : 0;
#else
        const int cols = 0;   /* (no layer of the model takes it: ops/conv.py) */
        const int32_t cols_bytes = 0;
#endif
        const int cols_room = cols && cols_bytes <= p->scratch_bytes;
        if (cols && (cols_room || (!six_room && cols_bytes <= EKOPT_COLS_STACK))) {
#if EKOPT_CONV_DSP6 && EKOPT_USE(EKOPT_CONV_SIX_COLS) && EKOPT_USE(EKOPT_CONV_SIX_CH)
            if (cols_room) {
                ekopt_conv_cols6(p, in, filter, bias, out, (int32_t *)(void *)scratch);
            } else {
#if EKOPT_USE(EKOPT_CONV_COLS_STACK)
                ekopt_conv_cols6_stack(p, in, filter, bias, out);
#else
                EKOPT_NOT_LISTED();
#endif
            }
            ekopt_six_act(p, out);
            return;
#else
            EKOPT_NOT_LISTED();
#endif
        }
#if EKOPT_USE(EKOPT_CONV_SIX_STACK)
        const int six_stack = k4 <= EKOPT_P6_STACK_K && p->f_h * p->f_w > 1;
#else
        const int six_stack = 0;   /* (no layer of the model takes it: ops/conv.py) */
#endif
        if (p->batches * p->out_h * p->out_w >= 6 && 3 * k4 <= EKOPT_P6_WORDS
            && (six_room || six_stack) && ekopt_dsp6_ok(p)) {
#if EKOPT_CONV_DSP6
            if (six_room) {
                ekopt_conv_dsp6(p, in, filter, bias, out, (int32_t *)(void *)scratch);
            } else {
#if EKOPT_USE(EKOPT_CONV_SIX_STACK)
                ekopt_conv_dsp6_stack(p, in, filter, bias, out);
#else
                EKOPT_NOT_LISTED();
#endif
            }
            ekopt_six_act(p, out);
            return;
#else
            EKOPT_NOT_LISTED();
#endif
        }
        if (K <= EKOPT_KMAX && 4 * k4 + win <= p->scratch_bytes) {
#if EKOPT_CONV_DSP2
            ekopt_conv_dsp(p, in, filter, bias, out, (int32_t *)(void *)scratch);
            return;
#else
            EKOPT_NOT_LISTED();
#endif
        }
#if EKOPT_CONV_DSP2 && EKOPT_USE(EKOPT_CONV_TWO_STACK)
        /* No room in scratch for either im2col buffer, a window (not 1x1:
         * their buffer-less loop is as fast) whose two-pixel buffer is
         * small: that buffer on the stack (ops/conv.py TWO_STACK).  Compiled
         * (and checked) only where ek_paths.h lists it. */
        if (K <= EKOPT_KMAX && 4 * k4 + win <= EKOPT_TWO_STACK && p->f_h * p->f_w > 1) {
            ekopt_conv_dsp_stack(p, in, filter, bias, out, k4 + win / 4);
            return;
        }
#endif
    }
#endif
#if EKOPT_USE(EKOPT_CONV_DIL)
    if (dil) {
        /* No DSP, or no room for an im2col buffer: the reference loop. */
#if EKOPT_USE(EKOPT_CONV_REF)
        ek_conv_reference_buf(p, in, filter, bias, out, inplace ? scratch : 0);
        return;
#else
        EKOPT_NOT_LISTED();
#endif
    }
#endif
    if (p->f_h == 1 && p->f_w == 1 && p->pad_h == 0 && p->pad_w == 0) {
#if EKOPT_CONV_1X1
        ekopt_conv_1x1(p, in, filter, bias, out, inplace ? scratch : 0);
        return;
#else
        EKOPT_NOT_LISTED();
#endif
    }
#if EKOPT_CONV_RUN
    /* Only 1x1 convolutions run in place (ekopt_conv_1x1 above). */
    if (inplace) EKOPT_NOT_LISTED();
    const int32_t c = p->in_c;
    const int32_t in_row = p->in_w * c, f_row = p->f_w * c;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *img = in + (int64_t)b * p->in_h * in_row;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = ek_max32(0, -iy0), fy1 = ek_min32(p->f_h, p->in_h - iy0);
            const int32_t rows = fy1 - fy0;
            int8_t *yrow = out + ((int64_t)b * p->out_h + oy) * p->out_w * p->out_c;
            for (int32_t ox = 0; ox < p->out_w;) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ek_max32(0, -ix0), fx1 = ek_min32(p->f_w, p->in_w - ix0);
                if (rows <= 0 || fx1 <= fx0) {
                    /* Window entirely in the padding: bias only. */
                    ekopt_conv_one(p, img, filter, 0, 0, in_row, f_row, bias, yrow + (int64_t)ox * p->out_c);
                    ++ox;
                    continue;
                }
                const int8_t *x = img + (int64_t)(iy0 + fy0) * in_row + (int64_t)(ix0 + fx0) * c;
                const int8_t *f = filter + (int64_t)fy0 * f_row + (int64_t)fx0 * c;
                const int32_t run = (fx1 - fx0) * c;
                /* Pair with the next pixel when both windows are whole in x. */
                if (ox + 1 < p->out_w && ix0 >= 0 && ix0 + p->stride_w + p->f_w <= p->in_w) {
                    ekopt_conv_pair(p, x, x + (int64_t)p->stride_w * c, f, rows, run, in_row, f_row,
                                    bias, yrow + (int64_t)ox * p->out_c,
                                    yrow + (int64_t)(ox + 1) * p->out_c);
                    ox += 2;
                } else {
                    ekopt_conv_one(p, x, f, rows, run, in_row, f_row, bias, yrow + (int64_t)ox * p->out_c);
                    ++ox;
                }
            }
        }
    }
#else
    EKOPT_NOT_LISTED();
#endif
}
