/*
 * edgekit audio front end: what its C files share (private: not part of the
 * API of frontend.h, include it from frontend*.c only).
 *
 *   frontend.c         state, streaming push, the per-frame chain, filterbank,
 *                      noise reduction (spectral subtraction), int8 output
 *   frontend_window.c  Hann window + the FFT's auto-scale
 *   frontend_fft.c     fixed-point FFT, bin energies
 *   frontend_math.c    rounded square root, PCAN gain, log (per channel)
 *   frontend_dsp.h     dual 16-bit helpers of frontend_window.c and _fft.c
 *
 * The state and scratch stay static in frontend.c: the stages of the other
 * files work on the buffers they are given.  Each file selects the tables of
 * the generated "frontend_tables.h" it uses, before including this header:
 * EK_FE_TABLES_WINDOW, EK_FE_TABLES_FFT, EK_FE_TABLES_FILTERBANK or
 * EK_FE_TABLES_MATH (so that every table has exactly one copy, even without
 * optimisation).
 */
#ifndef EK_FRONTEND_INTERNAL_H
#define EK_FRONTEND_INTERNAL_H

#include <stdint.h>

#include "frontend.h"
#include "frontend_tables.h"

#define WIN EK_FRONTEND_WINDOW_SIZE
#define STRIDE EK_FRONTEND_STRIDE
#define HALF (EK_FRONTEND_FFT_SIZE / 2)
#define NCH EK_FRONTEND_NUM_CHANNELS

#if defined(__GNUC__)
#define EK_INLINE inline __attribute__((always_inline))
#define EK_NOINLINE __attribute__((noinline))
#else
#define EK_NOINLINE
#define EK_INLINE inline
#endif

/* Functions shared between the front end's files only: not exported from a
 * shared library (ELF). */
#if defined(__GNUC__) && defined(__ELF__)
#define EK_FE_INTERNAL __attribute__((visibility("hidden")))
#else
#define EK_FE_INTERNAL
#endif

/* A complex Q15 value packed in 32 bits: real part in the low half, imaginary
 * part in the high half (two's complement each), the layout of the Cortex-M
 * DSP extension's dual 16-bit instructions. */
typedef uint32_t ek_pair;

/* Position (1-based) of the most significant set bit; 0 for 0. */
static EK_INLINE uint32_t msb32(uint32_t x)
{
#if defined(__GNUC__)
    return x ? 32u - (uint32_t)__builtin_clz(x) : 0u;
#else
    uint32_t n = 0;
    while (x) {
        x >>= 1;
        ++n;
    }
    return n;
#endif
}

/* frontend_window.c */

/* The auto-scale of ek_fe_window_and_scale: the shift (scale & SHIFT_MASK),
 * and SHIFT_MAY_WRAP when a windowed value may not fit 16 bits once shifted
 * (the reference keeps its low 16 bits; only after a -32768). */
#define EK_FE_SHIFT_MASK 0xFFu
#define EK_FE_SHIFT_MAY_WRAP 0x100u

/* Window samples[0, WIN) into fft[0, HALF) (digit-reversed order, zero
 * padded); returns the auto-scale, for ek_fe_complex_fft. */
EK_FE_INTERNAL uint32_t ek_fe_window_and_scale(const int16_t *samples, ek_pair *fft);

/* frontend_fft.c */

/* The complex FFT of HALF points, in place, on the auto-scaled inputs. */
EK_FE_INTERNAL void ek_fe_complex_fft(ek_pair *fft, uint32_t scale);
/* Replace each slot by the energy (uint32) of the real FFT's bin, zero
 * outside [EK_FE_ENERGY_START, EK_FE_ENERGY_END). */
EK_FE_INTERNAL void ek_fe_real_spectrum_energy(ek_pair *fft);

/* frontend_math.c */

/* chan[c] = rounded sqrt(sums[c]) >> shift (undoing the auto-scale). */
EK_FE_INTERNAL void ek_fe_filterbank_sqrt(const uint64_t *sums, uint32_t *chan, uint32_t shift);
#if EK_FE_PCAN
/* Scale each channel by the PCAN gain of its noise estimate, then shrink. */
EK_FE_INTERNAL void ek_fe_pcan(const uint32_t *noise, uint32_t *chan);
#endif
#if EK_FE_LOG
/* Each channel to round(LOG_SCALE * ln(value << CORRECTION_BITS)), 0 below 2. */
EK_FE_INTERNAL void ek_fe_log_channels(uint32_t *chan);
#endif

#endif /* EK_FRONTEND_INTERNAL_H */
