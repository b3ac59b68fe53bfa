/*
 * edgekit_harness.h -- shared declarations of the edgekit firmware harness.
 */
#ifndef EDGEKIT_HARNESS_H
#define EDGEKIT_HARNESS_H

#include <stdint.h>

/* Word written over the unused stack at reset (high-water mark probe). */
#define EDGEKIT_STACK_PAINT 0xEDC0FFEEu

/* Clock used for profiling, selected at compile time:
 *   default            SysTick on the processor clock, 24-bit counter with a
 *                      software wrap count kept in SysTick_Handler.
 *   EDGEKIT_PROFILE_DWT DWT->CYCCNT cycle counter (real M3/M4/M7/M33/M55
 *                      hardware; QEMU does not model it).
 * EDGEKIT_SYSTICK_HZ is the SysTick input clock; under
 * `qemu-system-arm -icount shift=0` one guest instruction takes 1 ns, so
 * instructions = ticks * 1e9 / EDGEKIT_SYSTICK_HZ (40 on the 25 MHz mps2). */
#ifndef EDGEKIT_SYSTICK_HZ
#define EDGEKIT_SYSTICK_HZ 25000000u
#endif

void edgekit_clock_init(void);
uint64_t edgekit_clock_now(void);
/* Convert a clock difference to the reported "instructions" figure. */
uint64_t edgekit_clock_to_instructions(uint64_t delta);

#endif /* EDGEKIT_HARNESS_H */
