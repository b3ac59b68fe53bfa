/*
 * edgekit_startup.c -- minimal Cortex-M startup written for edgekit.
 *
 * Provides the vector table (placed in .isr_vector at the start of flash by
 * the linker script), a Reset_Handler that copies .data from flash, zeroes
 * .bss, enables the FPU/MVE coprocessors on cores that have them, paints the
 * stack with a known pattern (for the STACK high-water mark) and calls main.
 * Faults print a line over semihosting and terminate QEMU with status 3, so
 * a crashing model fails fast instead of hanging until the time-out.
 */
#include <stdint.h>

#include "edgekit_harness.h"
#include "edgekit_semihost.h"

/* Symbols defined by the edgekit linker script. */
extern uint32_t _sidata; /* load address of .data (in flash) */
extern uint32_t _sdata;
extern uint32_t _edata;
extern uint32_t _sbss;
extern uint32_t _ebss;
extern uint32_t _estack;       /* initial stack pointer (top of RAM) */
extern uint32_t _stack_bottom; /* lowest address the stack may reach */

int main(void);

void Reset_Handler(void);
void edgekit_reset_c(void);
void edgekit_fault_handler(void);
void edgekit_default_handler(void);
void SysTick_Handler(void);

typedef union {
    void (*handler)(void);
    void *address;
} edgekit_vector_t;

/* Cortex-M exception vectors 0..15; no device interrupts are enabled. */
__attribute__((section(".isr_vector"), used))
const edgekit_vector_t edgekit_vector_table[16] = {
    {.address = &_estack},                  /* 0: initial SP */
    {.handler = Reset_Handler},             /* 1: reset */
    {.handler = edgekit_default_handler},   /* 2: NMI */
    {.handler = edgekit_fault_handler},     /* 3: HardFault */
    {.handler = edgekit_fault_handler},     /* 4: MemManage */
    {.handler = edgekit_fault_handler},     /* 5: BusFault */
    {.handler = edgekit_fault_handler},     /* 6: UsageFault */
    {.handler = edgekit_fault_handler},     /* 7: SecureFault (v8-M) */
    {.address = 0},                         /* 8: reserved */
    {.address = 0},                         /* 9: reserved */
    {.address = 0},                         /* 10: reserved */
    {.handler = edgekit_default_handler},   /* 11: SVCall */
    {.handler = edgekit_default_handler},   /* 12: DebugMonitor */
    {.address = 0},                         /* 13: reserved */
    {.handler = edgekit_default_handler},   /* 14: PendSV */
    {.handler = SysTick_Handler},           /* 15: SysTick */
};

#define EDGEKIT_SCB_VTOR  (*(volatile uint32_t *)0xE000ED08u)

/*
 * Reset entry.  Naked so that no compiler-generated code runs before the
 * FPU is switched on: the C part below calls newlib's memcpy/memset (GCC
 * turns the copy loops into calls), which may use FP/MVE registers.
 */
__attribute__((naked, noreturn)) void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CPACR (0xE000ED88) |= CP10 and CP11 full access: FPU (and MVE). */
    __asm__ volatile("movw r0, #0xED88\n\t"
                     "movt r0, #0xE000\n\t"
                     "ldr r1, [r0]\n\t"
                     "orr r1, r1, #0x00F00000\n\t"
                     "str r1, [r0]\n\t"
                     "dsb\n\t"
                     "isb\n\t"
                     "b edgekit_reset_c\n\t");
#else
    __asm__ volatile("b edgekit_reset_c\n\t");
#endif
}

__attribute__((used, noreturn)) void edgekit_reset_c(void)
{
    uint32_t *src = &_sidata;
    uint32_t *dst = &_sdata;
    uint32_t *sp_now;

    while (dst < &_edata) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss; dst++) {
        *dst = 0u;
    }

#if !defined(__ARM_ARCH_6M__)
    EDGEKIT_SCB_VTOR = (uint32_t)(uintptr_t)&edgekit_vector_table[0];
#endif

    /* Paint the unused stack, leaving a margin below the live frame. */
    __asm__ volatile("mov %0, sp" : "=r"(sp_now));
    for (dst = &_stack_bottom; dst < sp_now - 16; dst++) {
        *dst = EDGEKIT_STACK_PAINT;
    }

    edgekit_sh_exit(main());
}

void edgekit_fault_handler(void)
{
    edgekit_sh_write0("ERR fault\n");
    edgekit_sh_exit(3);
}

void edgekit_default_handler(void)
{
    edgekit_sh_write0("ERR unexpected exception\n");
    edgekit_sh_exit(4);
}
