/*
 * edgekit audio front end: Hann window and the FFT's auto-scale (see
 * frontend_internal.h).  C99, no state: works on the buffers it is given.
 *
 * The auto-scale shift is the reference's: from its peak, a running max |x|
 * of the windowed samples kept in int16 (so that a -32768 wraps it).
 */
#define EK_FE_TABLES_WINDOW 1
#include "frontend_internal.h"
#include "frontend_dsp.h"

/* The windowed value of sample n (the reference's exact arithmetic). */
static int32_t windowed(const int16_t *samples, uint32_t n)
{
    int32_t x = ((int32_t)samples[n] * ek_fe_window[n]) >> EK_FE_WINDOW_BITS;
    if (x > INT16_MAX) {
        x = INT16_MAX;
    } else if (x < INT16_MIN) {
        x = INT16_MIN;
    }
    return x;
}

/* The auto-scale shift of a peak (its bits used; 0, or a "negative" peak,
 * counts as 32 bits: no scaling), as in the reference. */
static uint32_t shift_of_peak(int32_t peak)
{
    const uint32_t used = peak > 0 ? msb32((uint32_t)peak) : 32u;
    return used < 15u ? 15u - used : 0u;
}

/*
 * The windowed samples can reach -32768 only where |weight| >= 2^WINDOW_BITS
 * (|sample| <= 32768): the positions [EK_FE_FULL_FIRST, EK_FE_FULL_LAST].
 * The pairs from TAIL_PAIR on lie after them (the "tail"): ek_fe_window_and_scale
 * keeps their min and max apart, for reference_shift.
 */
#if EK_FE_WINDOW_FULL
#define TAIL_PAIR ((EK_FE_FULL_LAST + 2u) / 2u < WIN / 2u ? (EK_FE_FULL_LAST + 2u) / 2u : WIN / 2u)
#else
#define TAIL_PAIR (WIN / 2u)
#endif

static int32_t abs_if(int32_t x)
{
    return x < 0 ? -x : x;
}

/* The bits of max |x| (only its leading one counts) from an EK_ABS16_OR_INTO
 * accumulator with no -32768: the OR of its halves. */
static int32_t peak_bits(ek_pair acc)
{
    return (int32_t)((acc | (acc >> 16)) & 0xFFFFu);
}

/* The stored (windowed) pair c of the FFT buffer; the pair after the last
 * whole one holds the odd sample (and 0) when WIN is odd. */
static EK_INLINE ek_pair stored_pair(const ek_pair *fft, uint32_t c)
{
    return fft[ek_fe_position[c]];
}

/* The tail pairs [TAIL_PAIR, WIN / 2) in blocks of TAIL_BLOCK: the bits of
 * |x| of each block are kept too. */
#define TAIL_BLOCK 8u
#define TAIL_BLOCKS ((WIN / 2u - TAIL_PAIR + TAIL_BLOCK - 1u) / TAIL_BLOCK + 1u)

/* peak | the bits of |x| over the stored pairs from c on (none -32768):
 * pair by pair up to the next block of the tail, then its blocks' bits. */
static int32_t peak_from(const ek_pair *fft, uint32_t c, int32_t peak, const ek_pair *blocks)
{
    ek_pair acc = 0;
    uint32_t end, b;
    if (c < TAIL_PAIR) {
        end = TAIL_PAIR;
        b = 0;
    } else {
        b = (c - TAIL_PAIR) / TAIL_BLOCK + 1u;
        end = TAIL_PAIR + b * TAIL_BLOCK;
        end = end < WIN / 2u ? end : WIN / 2u;
    }
    for (; c < end; ++c) {
        const ek_pair x = stored_pair(fft, c);
        EK_ABS16_OR_INTO(acc, x);
    }
    for (; b * TAIL_BLOCK < WIN / 2u - TAIL_PAIR; ++b) {
        acc |= blocks[b];
    }
    for (c = WIN / 2u; c < (WIN + 1u) / 2u; ++c) { /* the odd sample, if any */
        const ek_pair x = stored_pair(fft, c);
        EK_ABS16_OR_INTO(acc, x);
    }
    return peak | peak_bits(acc);
}

/*
 * The auto-scale shift of the reference when a windowed value is -32768.
 * Its peak is a running max |x| kept in int16: -32768 reads as -32768, and
 * from there on a sample replaces the peak when it is larger (x > peak) or
 * when -x > peak.  So after the last -32768 (found among the few full-weight
 * positions) the peak follows the samples while they rise and stay negative;
 * at the first that does not, it becomes that sample's |x|, and from then on
 * the plain running max |x| (no -32768 follows): peak_from, which reads the
 * max over the tail pairs (tail_peak, computed while windowing) unless the
 * rise ran into the tail.  The windowed values are read back from the FFT
 * buffer.
 */
static EK_NOINLINE uint32_t reference_shift(const int16_t *samples, const ek_pair *fft,
                                            const ek_pair *blocks)
{
#if EK_FE_WINDOW_FULL
    uint32_t n = EK_FE_FULL_LAST, c;
    int32_t peak = INT16_MIN;
    for (;;) { /* stops at EK_FE_FULL_FIRST at the latest: a -32768 was seen */
        const ek_pair x = stored_pair(fft, n / 2);
        if ((n % 2 != 0 ? hi16(x) : lo16(x)) == INT16_MIN) {
            break;
        }
        --n;
    }
    /* the rise, from sample n + 1 (a padding 0 after an odd WIN ends it) */
    c = (n + 1) / 2;
    if (n % 2 == 0) { /* n + 1 is the high half of pair c */
        const int32_t b = hi16(stored_pair(fft, c));
        ++c;
        if (b >= 0 || b <= peak) {
            return shift_of_peak(peak_from(fft, c, abs_if(b), blocks));
        }
        peak = b;
    }
    for (; c < (WIN + 1) / 2; ++c) {
        const ek_pair x = stored_pair(fft, c);
        const int32_t a = lo16(x), b = hi16(x);
        if (a >= 0 || a <= peak) {
            return shift_of_peak(peak_from(fft, c + 1, abs_if(a) | abs_if(b), blocks));
        }
        if (b >= 0 || b <= a) {
            return shift_of_peak(peak_from(fft, c + 1, abs_if(b), blocks));
        }
        peak = b;
        if (2u * c > EK_FE_FULL_LAST && load32(samples + 2u * c) == 0x80008000u) {
            /* then the next pairs of -32768 samples keep rising, while the
             * weights fall: x = -32768 w / 2^WINDOW_BITS (w < 2^WINDOW_BITS) */
            while (c + 1u < EK_FE_FALL_END / 2u && load32(samples + 2u * (c + 1u)) == 0x80008000u) {
                ++c;
            }
            peak = hi16(stored_pair(fft, c));
        }
    }
    return 0u; /* it rose to the end: a negative peak, no scaling */
#else
    (void)samples;
    (void)fft;
    (void)blocks;
    return 0u; /* unreachable: no windowed sample can be -32768 */
#endif
}

/* The windowed pair of samples 2c, 2c + 1. */
static EK_INLINE ek_pair windowed_pair(const int16_t *samples, uint32_t c)
{
#if EK_FE_WINDOW_SATURATES
    return pack(windowed(samples, 2 * c), windowed(samples, 2 * c + 1));
#else
    const uint32_t s = load32(samples + 2 * c);
    const uint32_t w = load32(ek_fe_window + 2 * c);
    return EK_WINDOW_PACK(lo16(s) * lo16(w), hi16(s) * hi16(w));
#endif
}

/* Window pair c into the FFT buffer, |x| into acc. */
#define EK_WINDOW_PAIR(c, acc)                           \
    do {                                                 \
        const ek_pair x_ = windowed_pair(samples, (c));  \
        EK_ABS16_OR_INTO((acc), x_);                     \
        fft[ek_fe_position[(c)]] = x_;                   \
    } while (0)

/* Window the buffered samples into the FFT buffer (digit-reversed order,
 * zero padded) and return the auto-scale shift (applied by first_stage).
 * The shift depends on the leading one of the peak max |x| only: the |x|
 * are ORed together (a -32768 sets bit 15), 8 pairs at a time, and in the
 * tail per block of TAIL_BLOCK pairs. */
uint32_t ek_fe_window_and_scale(const int16_t *samples, ek_pair *fft)
{
    ek_pair head = 0, tail = 0; /* |x| ORed, per half: before and in the tail */
    ek_pair blocks[TAIL_BLOCKS]; /* the same per block of the tail */
    uint32_t c, b;
    for (c = 0; c + 8 <= TAIL_PAIR; c += 8) {
        EK_WINDOW_PAIR(c, head);
        EK_WINDOW_PAIR(c + 1, head);
        EK_WINDOW_PAIR(c + 2, head);
        EK_WINDOW_PAIR(c + 3, head);
        EK_WINDOW_PAIR(c + 4, head);
        EK_WINDOW_PAIR(c + 5, head);
        EK_WINDOW_PAIR(c + 6, head);
        EK_WINDOW_PAIR(c + 7, head);
    }
    for (; c < TAIL_PAIR; ++c) {
        EK_WINDOW_PAIR(c, head);
    }
    for (b = 0; c + TAIL_BLOCK <= WIN / 2; c += TAIL_BLOCK, ++b) {
        ek_pair acc = 0;
        EK_WINDOW_PAIR(c, acc);
        EK_WINDOW_PAIR(c + 1, acc);
        EK_WINDOW_PAIR(c + 2, acc);
        EK_WINDOW_PAIR(c + 3, acc);
        EK_WINDOW_PAIR(c + 4, acc);
        EK_WINDOW_PAIR(c + 5, acc);
        EK_WINDOW_PAIR(c + 6, acc);
        EK_WINDOW_PAIR(c + 7, acc);
        blocks[b] = acc;
        tail |= acc;
    }
    blocks[b] = 0;
    for (; c < WIN / 2; ++c) {
        EK_WINDOW_PAIR(c, blocks[b]);
    }
    tail |= blocks[b];
    if (WIN % 2 != 0) {
        const ek_pair x = pack(windowed(samples, WIN - 1), 0);
        EK_ABS16_OR_INTO(head, x);
        fft[ek_fe_position[WIN / 2]] = x;
        ++c;
    }
    for (; c < HALF; ++c) {
        fft[ek_fe_position[c]] = 0u;
    }
    if ((head & 0x80008000u) != 0u) { /* a -32768: the reference's peak may end anywhere */
        return reference_shift(samples, fft, blocks) | EK_FE_SHIFT_MAY_WRAP;
    }
    /* otherwise the reference's peak is max |x| */
    return shift_of_peak(peak_bits(head | tail));
}

