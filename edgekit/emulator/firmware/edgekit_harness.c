/*
 * edgekit_harness.c -- firmware main for running a generated model under
 * QEMU (or on a board with a semihosting debugger).
 *
 * Reads inputs.bin (from the emulator's working directory) case by case,
 * runs edgekit_invoke() on each, and prints, over semihosting stdout:
 *
 *   EDGEKIT 1 <clock> <hz>          header: "systick <hz>" or "dwt 0"
 *   IO <input_bytes> <output_bytes>   totals over the data inputs/outputs
 *   INPUTS <n> <bytes of each>      the data inputs, concatenated per case
 *   OUTPUTS <n> <bytes of each>     the data outputs, concatenated per OUT
 *   OPS <num_ops>
 *   OPNAME <i> <name>               one per op
 *   CASES <n>
 *   OUT <case> <hex bytes>          one per case, every output tensor
 *   INF <case> <instructions>       one per case, whole edgekit_invoke()
 *   OP <case> <op> <instructions>   one per case and op
 *   STACK <bytes>                   stack high-water mark
 *   DONE
 *
 * and exits 0.  On any error it prints "ERR <message>" and exits non-zero.
 * edgekit_reset() runs before the first case (the cases form one stream);
 * built with -DEDGEKIT_RESET_EVERY=K (K > 0), also before every K-th case.
 *
 * Built with -DEDGEKIT_AUDIO (a model with edgekit_audio.c), inputs.bin
 * holds raw PCM clips instead and the records between the header and STACK
 * are those of edgekit_audio_main() (edgekit_audio_harness.c).
 */
#include <stdint.h>

#include "edgekit_audio_harness.h"
#include "edgekit_harness.h"
#include "edgekit_semihost.h"
#include "model.h"

/* A generated model.h names ops through EDGEKIT_OP_NAME(i) (compact
 * tables); other models (the front end's, test fixtures) define the array. */
#ifndef EDGEKIT_OP_NAME
#define EDGEKIT_OP_NAME(i) edgekit_op_names[i]
#endif

#ifndef EDGEKIT_NUM_INPUTS
#define EDGEKIT_NUM_INPUTS 1
#endif
#ifndef EDGEKIT_NUM_OUTPUTS
#define EDGEKIT_NUM_OUTPUTS 1
#endif

/* ---------------------------------------------------------------- clock */

#define EDGEKIT_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define EDGEKIT_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define EDGEKIT_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
/* SysTick reload (24-bit); overridable only to test the wrap counting. */
#ifndef EDGEKIT_SYSTICK_RELOAD
#define EDGEKIT_SYSTICK_RELOAD 0x00FFFFFFu
#endif
#define EDGEKIT_SYST_RELOAD ((uint32_t)(EDGEKIT_SYSTICK_RELOAD))

static volatile uint32_t edgekit_systick_wraps;

void SysTick_Handler(void)
{
    edgekit_systick_wraps++;
}

#if defined(EDGEKIT_PROFILE_DWT)
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#error "EDGEKIT_PROFILE_DWT needs a core with DWT->CYCCNT (not v6-M/v8-M baseline)"
#endif
#define EDGEKIT_DEMCR      (*(volatile uint32_t *)0xE000EDFCu)
#define EDGEKIT_DWT_CTRL   (*(volatile uint32_t *)0xE0001000u)
#define EDGEKIT_DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)

static uint32_t edgekit_dwt_last;
static uint64_t edgekit_dwt_high;

void edgekit_clock_init(void)
{
    EDGEKIT_DEMCR |= (1u << 24); /* TRCENA */
    EDGEKIT_DWT_CYCCNT = 0u;
    EDGEKIT_DWT_CTRL |= 1u;      /* CYCCNTENA */
    edgekit_dwt_last = 0u;
    edgekit_dwt_high = 0u;
}

uint64_t edgekit_clock_now(void)
{
    /* Extend the 32-bit counter; valid while calls are < 2^32 cycles apart. */
    uint32_t now = EDGEKIT_DWT_CYCCNT;
    if (now < edgekit_dwt_last) {
        edgekit_dwt_high += 0x100000000ull;
    }
    edgekit_dwt_last = now;
    return edgekit_dwt_high + now;
}

uint64_t edgekit_clock_to_instructions(uint64_t delta)
{
    return delta; /* cycles */
}
#else
void edgekit_clock_init(void)
{
    edgekit_systick_wraps = 0u;
    EDGEKIT_SYST_RVR = EDGEKIT_SYST_RELOAD;
    EDGEKIT_SYST_CVR = 0u;
    /* ENABLE | TICKINT | CLKSOURCE (processor clock) */
    EDGEKIT_SYST_CSR = 0x7u;
}

uint64_t edgekit_clock_now(void)
{
    uint32_t wraps;
    uint32_t value;
    do {
        wraps = edgekit_systick_wraps;
        value = EDGEKIT_SYST_CVR;
    } while (wraps != edgekit_systick_wraps);
    return (uint64_t)wraps * (EDGEKIT_SYST_RELOAD + 1u) + (EDGEKIT_SYST_RELOAD - value);
}

uint64_t edgekit_clock_to_instructions(uint64_t delta)
{
#if (1000000000u % EDGEKIT_SYSTICK_HZ) == 0u
    /* a whole number of instructions per tick: no 64-bit division (libgcc's
     * __aeabi_uldivmod is about 700 bytes of the measured flash) */
    return delta * (uint64_t)(1000000000u / EDGEKIT_SYSTICK_HZ);
#else
    return (delta * 1000000000ull) / (uint64_t)EDGEKIT_SYSTICK_HZ;
#endif
}
#endif

/* -------------------------------------------------------- profile hooks */

static uint64_t edgekit_op_start[EDGEKIT_NUM_OPS];
static uint64_t edgekit_op_total[EDGEKIT_NUM_OPS];

void edgekit_profile_begin(int op_index)
{
    if (op_index >= 0 && op_index < EDGEKIT_NUM_OPS) {
        edgekit_op_start[op_index] = edgekit_clock_now();
    }
}

void edgekit_profile_end(int op_index)
{
    uint64_t now = edgekit_clock_now();
    if (op_index >= 0 && op_index < EDGEKIT_NUM_OPS) {
        edgekit_op_total[op_index] += now - edgekit_op_start[op_index];
    }
}

/* --------------------------------------------------------------- output */

static char edgekit_line[128];
static uint32_t edgekit_line_len;

static void edgekit_flush(void)
{
    if (edgekit_line_len > 0u) {
        edgekit_line[edgekit_line_len] = '\0';
        edgekit_sh_write0(edgekit_line);
        edgekit_line_len = 0u;
    }
}

static void edgekit_putc(char c)
{
    if (edgekit_line_len >= sizeof(edgekit_line) - 1u) {
        edgekit_flush();
    }
    edgekit_line[edgekit_line_len++] = c;
    if (c == '\n') {
        edgekit_flush();
    }
}

static void edgekit_puts(const char *s)
{
    while (*s != '\0') {
        edgekit_putc(*s++);
    }
}

/* Decimal digits by subtracting powers of ten: no 64-bit division, which
 * would link libgcc's __aeabi_uldivmod (about 700 bytes) into every
 * measured firmware. */
static void edgekit_putu(uint64_t value)
{
    uint64_t power[20];
    int k = 0;
    power[0] = 1u;
    while (k < 19 && power[k] * 10u <= value) {   /* 10^19 is the largest uint64_t power */
        power[k + 1] = power[k] * 10u;
        k++;
    }
    for (; k >= 0; k--) {
        char digit = '0';
        while (value >= power[k]) {
            value -= power[k];
            digit++;
        }
        edgekit_putc(digit);
    }
}

__attribute__((unused)) static void edgekit_puthex(const uint8_t *data, uint32_t len)
{
    static const char hex[] = "0123456789abcdef";
    uint32_t i;
    for (i = 0u; i < len; i++) {
        edgekit_putc(hex[data[i] >> 4]);
        edgekit_putc(hex[data[i] & 0x0Fu]);
    }
}

static int edgekit_fail(const char *message, int code)
{
    edgekit_puts("ERR ");
    edgekit_puts(message);
    edgekit_putc('\n');
    return code;
}

/* ----------------------------------------------------------------- main */

extern uint32_t _estack;
extern uint32_t _stack_bottom;

static uint32_t edgekit_stack_used(void)
{
    const uint32_t *p = &_stack_bottom;
    while (p < &_estack && *p == EDGEKIT_STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
}

/* The first line of the output: format version and the clock counting instructions. */
static void edgekit_print_banner(void)
{
#if defined(EDGEKIT_PROFILE_DWT)
    edgekit_puts("EDGEKIT 1 dwt 0\n");
#else
    edgekit_puts("EDGEKIT 1 systick ");
    edgekit_putu(EDGEKIT_SYSTICK_HZ);
    edgekit_putc('\n');
#endif
}

#if defined(EDGEKIT_AUDIO)
static int32_t edgekit_audio_handle = -1;

int edgekit_audio_io_read(void *buf, uint32_t len)
{
    return edgekit_sh_read(edgekit_audio_handle, buf, len) != 0 ? 1 : 0;
}

void edgekit_audio_io_write(const char *text)
{
    edgekit_puts(text);
}

uint64_t edgekit_audio_io_now(void)
{
    return edgekit_clock_now();
}

uint64_t edgekit_audio_io_to_instructions(uint64_t delta)
{
    return edgekit_clock_to_instructions(delta);
}

int main(void)
{
    int32_t length;
    int status;

    edgekit_clock_init();
    edgekit_print_banner();
    edgekit_audio_handle = edgekit_sh_open("inputs.bin", 1 /* "rb" */);
    if (edgekit_audio_handle < 0) {
        return edgekit_fail("cannot open inputs.bin", 10);
    }
    length = edgekit_sh_flen(edgekit_audio_handle);
    if (length < 0) {
        (void)edgekit_sh_close(edgekit_audio_handle);
        return edgekit_fail("cannot get length of inputs.bin", 11);
    }
    status = edgekit_audio_main((uint32_t)length);
    (void)edgekit_sh_close(edgekit_audio_handle);
    if (status != 0) {
        return status;
    }
    edgekit_puts("STACK ");
    edgekit_putu(edgekit_stack_used());
    edgekit_putc('\n');
    edgekit_puts("DONE\n");
    return 0;
}
#else
static uint8_t edgekit_input[EDGEKIT_INPUT_BYTES] __attribute__((aligned(16)));
static uint8_t edgekit_output[EDGEKIT_OUTPUT_BYTES] __attribute__((aligned(16)));

#if !defined(EDGEKIT_HAS_IO_SIZES)
/* A model.h without per-tensor sizes (older fixtures): one of each. */
static const uint32_t edgekit_input_sizes[1] = {EDGEKIT_INPUT_BYTES};
static const uint32_t edgekit_output_sizes[1] = {EDGEKIT_OUTPUT_BYTES};
#endif

/* "<tag> <n> <size 0> <size 1> ...\n" */
static void edgekit_print_sizes(const char *tag, const uint32_t *sizes, int n)
{
    int k;
    edgekit_puts(tag);
    edgekit_putc(' ');
    edgekit_putu((uint64_t)n);
    for (k = 0; k < n; k++) {
        edgekit_putc(' ');
        edgekit_putu((uint64_t)sizes[k]);
    }
    edgekit_putc('\n');
}

int main(void)
{
    int32_t handle;
    int32_t length;
    uint32_t cases;
    uint32_t c;
    int i;

    edgekit_clock_init();
    edgekit_print_banner();
    edgekit_puts("IO ");
    edgekit_putu((uint64_t)EDGEKIT_INPUT_BYTES);
    edgekit_putc(' ');
    edgekit_putu((uint64_t)EDGEKIT_OUTPUT_BYTES);
    edgekit_putc('\n');
    edgekit_print_sizes("INPUTS", edgekit_input_sizes, EDGEKIT_NUM_INPUTS);
    edgekit_print_sizes("OUTPUTS", edgekit_output_sizes, EDGEKIT_NUM_OUTPUTS);
    edgekit_puts("OPS ");
    edgekit_putu((uint64_t)EDGEKIT_NUM_OPS);
    edgekit_putc('\n');
    for (i = 0; i < EDGEKIT_NUM_OPS; i++) {
        edgekit_puts("OPNAME ");
        edgekit_putu((uint64_t)i);
        edgekit_putc(' ');
        edgekit_puts(EDGEKIT_OP_NAME(i) != 0 ? EDGEKIT_OP_NAME(i) : "?");
        edgekit_putc('\n');
    }

    handle = edgekit_sh_open("inputs.bin", 1 /* "rb" */);
    if (handle < 0) {
        return edgekit_fail("cannot open inputs.bin", 10);
    }
    length = edgekit_sh_flen(handle);
    if (length < 0) {
        (void)edgekit_sh_close(handle);
        return edgekit_fail("cannot get length of inputs.bin", 11);
    }
    if ((uint32_t)length % (uint32_t)EDGEKIT_INPUT_BYTES != 0u) {
        (void)edgekit_sh_close(handle);
        return edgekit_fail("inputs.bin is not a multiple of EDGEKIT_INPUT_BYTES", 12);
    }
    cases = (uint32_t)length / (uint32_t)EDGEKIT_INPUT_BYTES;
    edgekit_puts("CASES ");
    edgekit_putu(cases);
    edgekit_putc('\n');

    edgekit_reset();
    for (c = 0u; c < cases; c++) {
        uint64_t start;
        uint64_t stop;
        int status;

        if (edgekit_sh_read(handle, edgekit_input, EDGEKIT_INPUT_BYTES) != 0) {
            (void)edgekit_sh_close(handle);
            return edgekit_fail("short read from inputs.bin", 13);
        }
#if defined(EDGEKIT_RESET_EVERY) && EDGEKIT_RESET_EVERY > 0
        if (c > 0u && c % (uint32_t)(EDGEKIT_RESET_EVERY) == 0u) {
            edgekit_reset();
        }
#endif
        for (i = 0; i < EDGEKIT_NUM_OPS; i++) {
            edgekit_op_total[i] = 0u;
        }
        start = edgekit_clock_now();
        status = edgekit_invoke(edgekit_input, edgekit_output);
        stop = edgekit_clock_now();
        if (status != 0) {
            (void)edgekit_sh_close(handle);
            edgekit_puts("ERR edgekit_invoke returned ");
            edgekit_putu((uint64_t)(uint32_t)status);
            edgekit_puts(" on case ");
            edgekit_putu(c);
            edgekit_putc('\n');
            return 14;
        }

        edgekit_puts("OUT ");
        edgekit_putu(c);
        edgekit_putc(' ');
        edgekit_puthex(edgekit_output, EDGEKIT_OUTPUT_BYTES);
        edgekit_putc('\n');

        edgekit_puts("INF ");
        edgekit_putu(c);
        edgekit_putc(' ');
        edgekit_putu(edgekit_clock_to_instructions(stop - start));
        edgekit_putc('\n');

        for (i = 0; i < EDGEKIT_NUM_OPS; i++) {
            edgekit_puts("OP ");
            edgekit_putu(c);
            edgekit_putc(' ');
            edgekit_putu((uint64_t)i);
            edgekit_putc(' ');
            edgekit_putu(edgekit_clock_to_instructions(edgekit_op_total[i]));
            edgekit_putc('\n');
        }
    }
    (void)edgekit_sh_close(handle);

    edgekit_puts("STACK ");
    edgekit_putu(edgekit_stack_used());
    edgekit_putc('\n');
    edgekit_puts("DONE\n");
    return 0;
}
#endif /* EDGEKIT_AUDIO */
