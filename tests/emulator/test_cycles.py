"""The Cortex-M4 cycle estimate (edgekit.emulator.cycles) against hand counts.

The golden figures are counted by hand from the Cortex-M4 TRM (ARM DDI 0439B,
Table 3-1 and section 3.3.2), never from the module: the pairing examples the
TRM itself gives, and a hand-written assembly "model" whose every executed
instruction is known, run under QEMU with the real harness.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edgekit.emulator.cycles import TimingModel, decode, instruction_cycles

P = 2   # pipeline refill of the default model


def _seq(*lines: str) -> int:
    """Cycles of a straight-line sequence ("mnemonic operands" per line)."""
    prev, total = None, 0
    for addr, line in enumerate(lines):
        mnem, _, ops = line.partition(" ")
        cur = decode(4 * addr, 4, mnem, ops)
        total += instruction_cycles(prev, cur)
        prev = cur
    return total


@pytest.mark.parametrize("lines, cycles", [
    # TRM 3.3.2 "Load/store timings", its own examples:
    (["ldr r0, [r1]", "ldr r1, [r2]"], 3),
    (["ldr r0, [r1, r2]", "str r0, [r3, #20]"], 3),
    (["ldr r0, [r1, r2]", "str r1, [r3, r2]"], 3),
    (["ldr r0, [r1, r5]", "ldr r1, [r2]", "ldr r2, [r3, #4]"], 4),
    # the destination of a load used as the next address: no pipelining
    (["ldr r0, [r1]", "ldr r2, [r0]"], 4),
    # nothing pipelines after a store; STR #imm is one cycle
    (["str r0, [r1]", "ldr r2, [r3]"], 3),
    (["str r0, [r1, r2]", "str r0, [r1, r2]"], 4),
    (["ldr r0, [r1]", "str.w r0, [r3, r2, lsl #2]", "str.w r0, [r3, r2, lsl #2]"], 5),
    # address from the preceding data-processing result: one stall
    (["adds r1, r1, #4", "ldr r0, [r1]"], 4),
    (["adds r2, r1, #4", "ldr r0, [r1]"], 3),
    # LDRD/STRD 1+N, never pipelined; LDM/PUSH/POP 1+N
    (["ldr r0, [r1]", "ldrd r2, r3, [r4]", "ldr r5, [r6]"], 7),
    (["push {r4, r5, r6, r7, lr}", "pop.w {r4-r7}"], 11),
    # the M4's single-cycle multiplies; divide at its 12-cycle worst case
    (["smlad r3, r4, r5, r3", "smull r0, r1, r2, r3", "umlal r0, r1, r2, r3",
      "mla r0, r1, r2, r0", "mul r0, r1, r1"], 5),
    (["sdiv r0, r1, r2"], 12),
    # TBB/TBH (3.3.2): two cycles for the load, one for the add (the
    # pipeline reload is P, added by the trace when the branch is taken)
    (["tbb [pc, r0]"], 3),
    (["ldr r0, [r1]", "tbh [pc, r0, lsl #1]"], 5),
    (["vpush {d8-d15}", "vmla.f32 s0, s1, s2", "vdiv.f32 s0, s1, s2", "vldr d0, [r0]"], 17 + 3 + 14 + 3),
])
def test_trm_pairing_examples(lines, cycles):
    assert _seq(*lines) == cycles


def test_decode_mnemonic_suffixes():
    assert decode(0, 2, "bics", "r0, r1").kind == "alu"          # not b + "cs"
    assert decode(0, 2, "bls.n", "10 <f>").kind == "branch"     # b + ls
    assert decode(0, 2, "movs", "r0, #1").kind == "alu"         # not mo + "vs"
    assert decode(0, 4, "ldrbne", "r0, [r1, #1]").kind == "load"
    pop = decode(0, 4, "ldmia.w", "sp!, {r4, r5, pc}")
    assert (pop.kind, pop.base, pop.writes_pc) == ("load_multiple", 4, True)
    assert decode(0, 4, "udiv", "r0, r1, r2", TimingModel(divide_cycles=7)).base == 7
    assert decode(0, 4, "isb", "sy", TimingModel(pipeline_refill=3)).base == 4
    assert decode(0, 4, "frobnicate", "r0").kind == "unknown"


def test_trace_parsing_by_hand():
    """A QEMU log written by hand: an io-recompiled block, a block stopped before
    it ran, a block logged as bytes only (QEMU without disassembler)."""
    from edgekit.emulator.cycles import trace_cycles

    code = [(0x100, 4, "bl", "200 <edgekit_invoke>"), (0x104, 2, "nop", ""),
            (0x200, 2, "push", "{r4, lr}"), (0x202, 2, "movs", "r0, #0"),
            (0x204, 4, "bl", "300 <edgekit_profile_begin>"),
            (0x208, 2, "ldr", "r1, [r2]"), (0x20a, 2, "ldr", "r3, [r4]"),
            (0x20c, 2, "movs", "r0, #0"), (0x20e, 4, "bl", "310 <edgekit_profile_end>"),
            (0x212, 2, "pop", "{r4, pc}"), (0x300, 2, "bx", "lr"), (0x310, 2, "bx", "lr")]
    insns = {a: decode(a, n, m, o) for a, n, m, o in code}
    symbols = {"edgekit_invoke": 0x200, "edgekit_profile_begin": 0x300,
               "edgekit_profile_end": 0x310}

    def tb(*addrs):
        return ["----------------", "IN: f"] + [f"0x{a:08x}:  0000  x" for a in addrs] + [""]

    def run(host, pc):
        return [f"Trace 0: 0x{host:x} [00800408/{pc:08x}/00000010/ff020200] f"]

    log = (tb(0x100) + run(1, 0x100) + tb(0x200, 0x202, 0x204) + run(2, 0x200)
           + tb(0x300) + run(3, 0x300)
           + ["----------------", "IN: f", "OBJD-T: " + "00" * 10, ""] + run(4, 0x208)
           + ["cpu_io_recompile: rewound execution of TB to 0000020a"]
           + tb(0x20a, 0x20c, 0x20e) + run(5, 0x20a)
           + ["Stopped execution of TB chain before 0x5 [0000020a] f"] + run(5, 0x20a)
           + tb(0x310) + run(6, 0x310)
           + tb(0x212) + run(7, 0x212) + tb(0x104) + run(8, 0x104))
    est = trace_cycles(log, insns, symbols, ["OP"])
    # op: LDR 2, LDR pipelined across the blocks 1, MOVS 1, BL 1+P
    assert est.per_op == [{"index": 0, "op": "OP", "cycles": 5 + P, "instructions": 4}]
    # + PUSH 1+2, MOVS 1, BL 1+P, POP {r4, pc} 1+2+P; the hooks' BX LR excluded
    assert est.cycles == [5 + P + 3 + 1 + 1 + P + 3 + P]
    assert est.instructions == [4 + 3 + 1]


# ---------------------------------------------------------------- under QEMU
MODEL_H = """\
#ifndef EDGEKIT_MODEL_H
#define EDGEKIT_MODEL_H
#include <stdint.h>
#define EDGEKIT_NUM_OPS 3
#define EDGEKIT_INPUT_BYTES 32
#define EDGEKIT_OUTPUT_BYTES 16
#define EDGEKIT_FRAMES_PER_CALL 1
#define EDGEKIT_FRAME_BYTES EDGEKIT_INPUT_BYTES
extern const char *const edgekit_op_names[EDGEKIT_NUM_OPS];
int edgekit_invoke(const void *input, void *output);
void edgekit_reset(void);
void edgekit_profile_begin(int op_index);
void edgekit_profile_end(int op_index);
#endif
"""

# edgekit_invoke in assembly: every executed instruction is listed, its cost
# from the TRM in the comment (P = 2).  An op runs from the return of
# edgekit_profile_begin(k) to the call of edgekit_profile_end(k) included.
MODEL_C = r"""
#include "model.h"
const char *const edgekit_op_names[EDGEKIT_NUM_OPS] = {"DOT", "LOADSTORE", "MISC"};
void edgekit_reset(void) {}
__asm__(
"  .section .text.edgekit_invoke,\"ax\",%progbits\n"
"  .syntax unified\n  .thumb\n  .align 2\n"
"  .global edgekit_invoke\n  .type edgekit_invoke, %function\n  .thumb_func\n"
"edgekit_invoke:\n"
"  push {r4, r5, r6, lr}\n"          /* 1+4 = 5 */
"  mov r4, r0\n"                     /* 1 */
"  mov r5, r1\n"                     /* 1 */
"  movs r0, #0\n"                    /* 1 */
"  bl edgekit_profile_begin\n"       /* 1+P */
/* op 0: 8 x (LDR, LDR, SMLAD) */
"  mov r1, r4\n"                     /* 1 */
"  mov r2, r4\n"                     /* 1 */
"  movs r3, #0\n"                    /* 1 */
"  movs r6, #8\n"                    /* 1 */
"1:ldr r0, [r1], #4\n"               /* 2 (after a branch or MOVS) */
"  ldr ip, [r2], #4\n"               /* 1: pipelined */
"  smlad r3, r0, ip, r3\n"           /* 1 */
"  subs r6, #1\n"                    /* 1 */
"  bne 1b\n"                         /* 1, +P 7 times */
"  str r3, [r5]\n"                   /* 1 */
"  movs r0, #0\n"                    /* 1 */
"  bl edgekit_profile_end\n"         /* 1+P */
"  movs r0, #1\n"                    /* 1 */
"  bl edgekit_profile_begin\n"       /* 1+P */
/* op 1: load/store pairing */
"  mov r1, r4\n"                     /* 1 */
"  ldr r2, [r1]\n"                   /* 2+1: address from the MOV */
"  ldr r3, [r1, #4]\n"               /* 1: pipelined */
"  str r1, [r5, #4]\n"               /* 1 */
"  ldr r2, [r5, #4]\n"               /* 2: nothing pipelines after a store */
"  ldr r3, [r2]\n"                   /* 2: address is the last load's result */
"  str r3, [r5, r6]\n"               /* 1: register offset, pipelined after LDR */
"  str r2, [r5, r6]\n"               /* 2: register offset after a store */
"  ldrd r2, r3, [r4]\n"              /* 3 */
"  ldr r0, [r4, #8]\n"               /* 2: LDRD does not pipeline */
"  movs r0, #1\n"                    /* 1 */
"  bl edgekit_profile_end\n"         /* 1+P */
"  movs r0, #2\n"                    /* 1 */
"  bl edgekit_profile_begin\n"       /* 1+P */
/* op 2: multiple load, IT, divide, taken branches, multiplies */
"  mov r1, r4\n"                     /* 1 */
"  ldmia r1!, {r0, r2, r3}\n"        /* 1+3, +1: address from the MOV */
"  cmp r0, r0\n"                     /* 1 */
"  it eq\n"                          /* 1 */
"  moveq r2, #3\n"                   /* 1 */
"  udiv r0, r2, r2\n"                /* 12 */
"  cbz r6, 2f\n"                     /* 1+P: r6 is 0 */
"  nop\n"
"2:b 3f\n"                           /* 1+P */
"  nop\n"
"3:smull r0, r1, r2, r3\n"           /* 1 */
"  umlal r0, r1, r2, r3\n"           /* 1 */
"  mul r0, r2, r3\n"                 /* 1 */
"  mla r0, r2, r3, r0\n"             /* 1 */
"  movs r0, #2\n"                    /* 1 */
"  bl edgekit_profile_end\n"         /* 1+P */
"  movs r0, #0\n"                    /* 1 */
"  pop {r4, r5, r6, pc}\n"           /* 1+4+P */
"  .size edgekit_invoke, .-edgekit_invoke\n"
"  .text\n");
"""

# Hand counts (P = 2): op = its body + MOVS + BL to edgekit_profile_end.
OP_CYCLES = [
    4 + 8 * 6 + 7 * P + 1 + (1 + 1 + P),                      # 71
    1 + 3 + 1 + 1 + 2 + 2 + 1 + 2 + 3 + 2 + (1 + 1 + P),      # 22
    1 + 5 + 1 + 1 + 1 + 12 + (1 + P) + (1 + P) + 4 + (1 + 1 + P),   # 35
]
OP_INSTRUCTIONS = [4 + 8 * 5 + 1 + 2, 10 + 2, 12 + 2]   # the NOPs are jumped over
# edgekit_invoke: PUSH, 2 MOV, 3 x (MOVS + BL begin), the ops, MOVS, POP {.., pc}.
TOTAL_CYCLES = 5 + 2 + 3 * (1 + 1 + P) + sum(OP_CYCLES) + 1 + (1 + 4 + P)
TOTAL_INSTRUCTIONS = 3 + 3 * 2 + sum(OP_INSTRUCTIONS) + 2


@pytest.mark.qemu
def test_hand_counted_kernels_under_qemu(tmp_path):
    from edgekit.emulator import build_firmware, run_qemu
    from tests.shared_data import missing

    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        missing("arm-none-eabi-gcc or qemu-system-arm missing")
    if shutil.which("arm-none-eabi-objdump") is None:
        missing("arm-none-eabi-objdump missing")
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.h").write_text(MODEL_H)
    (src / "model.c").write_text(MODEL_C)
    fw = build_firmware(src, tmp_path / "fw", "cortex-m4")
    x = np.arange(64, dtype=np.uint8).reshape(2, 32)          # two cases
    run = run_qemu(fw.elf, x, "cortex-m4", cycles=True)
    est = run.cycles
    assert [p["cycles"] for p in est.per_op] == OP_CYCLES
    assert [p["instructions"] for p in est.per_op] == OP_INSTRUCTIONS
    assert est.per_op_cases.shape == (2, 3, 2)
    assert est.cycles == [TOTAL_CYCLES] * 2
    assert est.instructions == [TOTAL_INSTRUCTIONS] * 2
    # the harness's SysTick count (40 instructions a tick) of an op also holds
    # about 30 instructions of its profiling hooks; the trace's count is exact
    gap = run.per_op_cases - est.per_op_cases[:, :, 1]
    assert gap.min() >= -40 and gap.max() < 80, gap
    # the parameters are honoured: a refill of 3 costs one more cycle per taken
    # branch (per op: 7 BNE + BL end, BL end, CBZ + B + BL end; outside: 3 BL begin, POP)
    slow = run_qemu(fw.elf, x[:1], "cortex-m4", cycles=TimingModel(pipeline_refill=3)).cycles
    assert [p["cycles"] for p in slow.per_op] == [c + t for c, t in zip(OP_CYCLES, [8, 1, 3])]
    assert slow.cycles == [TOTAL_CYCLES + 12 + 4]
