/* edgekit: sums of int8 values four at a time, for the optimized pooling
 * and MEAN kernels.
 *
 * A 32-bit word of four int8 values (four channels, or four consecutive
 * elements) is added into two accumulators of two 16-bit lanes: bytes 0 and
 * 2 into `a02`, bytes 1 and 3 into `a13`.
 *   - With the DSP extension: SXTAB16 (bytes 1/3 through its rotation), lanes
 *     sign-extended; EKL_LO / EKL_HI read the signed lane sums.
 *   - Without: the bytes are biased to unsigned (x ^ 0x80) and masked into
 *     the lanes (plain 32-bit unsigned adds: the upper lane may reach bit
 *     31); EKL_LO / EKL_HI remove the bias,
 *     128 per value added.
 * Either way a lane holds the sum of at most EKL_MAX_COUNT words without
 * overflow (|sum| <= 128 * 256 signed, <= 255 * 256 unsigned).
 */
#ifndef EK_OPT_LANES_H
#define EK_OPT_LANES_H

#include <stdint.h>

#include "ek_opt_requant.h"

#define EKL_MAX_COUNT 256

#if EKOPT_DSP
#define EKL_ACC(a02, a13, v)                      \
    do {                                          \
        (a02) = __sxtab16((a02), (v));            \
        (a13) = ekopt_sxtab16_hi((a13), (v));     \
    } while (0)
#define EKL_LO(a, n) ((void)(n), (int32_t)(int16_t)(a))
#define EKL_HI(a, n) ((void)(n), (int32_t)(a) >> 16)
#else
#define EKL_ACC(a02, a13, v)                                        \
    do {                                                            \
        const uint32_t u_ = (uint32_t)(v) ^ 0x80808080u;            \
        (a02) = (int32_t)((uint32_t)(a02) + (u_ & 0x00ff00ffu));    \
        (a13) = (int32_t)((uint32_t)(a13) + ((u_ >> 8) & 0x00ff00ffu)); \
    } while (0)
#define EKL_LO(a, n) ((int32_t)((uint32_t)(a) & 0xffffu) - 128 * (n))
#define EKL_HI(a, n) ((int32_t)((uint32_t)(a) >> 16) - 128 * (n))
#endif

#endif /* EK_OPT_LANES_H */
