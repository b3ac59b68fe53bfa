"""A Cortex-M4 cycle estimate of the instruction stream the firmware executes.

QEMU counts instructions, not cycles.  This module replays the instructions
QEMU actually ran (a ``-d exec,nochain,in_asm`` trace of its translated
blocks) through a per-instruction timing model of the Cortex-M4 taken from
Arm's *Cortex-M4 Technical Reference Manual* (ARM DDI 0439B, r0p1):
section 3.3.1, Table 3-1 "Cortex-M4 instruction set summary", and
section 3.3.2 "Load/store timings"; floating point from the instruction
table of its FPU chapter (7).  The instructions of each block come from the
ELF's disassembly (``arm-none-eabi-objdump -d``).

The model (zero-wait-state memory, as the TRM's table assumes):

=================================  =======================================
instructions                       cycles
=================================  =======================================
data processing, shifts, moves,    1
extends, bit fields, saturation,
SIMD add/sub, SEL, USAD8, IT, NOP
MUL, MLA, MLS, SMULL, UMULL,       1 (Table 3-1: the M4's single-cycle
SMLAL, UMLAL, SMLAD, SMLAxy, ...   MAC, 32x32->64 included)
SDIV, UDIV                         2-12, data dependent (early
                                   termination); the model charges
                                   ``divide_cycles`` = 12, the worst case
LDR, LDRB, LDRH, LDRSB, LDRSH      2; 1 when it directly follows a single
                                   load whose destination is not one of
                                   its address registers (3.3.2: "LDR
                                   [any] are pipelined when possible")
STR, STRB, STRH, immediate offset  1 (3.3.2: "always one cycle")
STR with a register offset         2; 1 when pipelined after a load
LDRD, STRD                         1 + N = 3, never pipelined
LDM, STM, PUSH, POP                1 + N (N registers)
branches B, BL, BX, BLX, CBZ,      1, plus P when taken
CBNZ; POP/LDM with PC, LDR PC,
MOV/ADD PC
TBB, TBH                           3 (load 2, add 1), plus P
ISB                                1 + P; DMB, DSB: 1
VADD, VSUB, VMUL, VCVT, VMOV, ...  1 (VMOV of two core registers: 2)
VMLA, VMLS, VFMA, VNMLA, ...       3
VDIV, VSQRT                        14
VLDR, VSTR                         1 + words (2 single, 3 double)
VLDM, VSTM, VPUSH, VPOP            1 + N words
=================================  =======================================

P, the pipeline refill after a taken branch, is 1-3 cycles in the TRM
(target alignment and width, early speculation); the model charges
``pipeline_refill`` = 2.  A branch is taken when the next block QEMU ran
does not start right after it.  3.3.2 also says a load or store whose
address register was written by the immediately preceding data-processing
instruction stalls one cycle ("no forwarding path"): the model adds it.

Left out: flash wait states and prefetch buffers (real boards at 80-120 MHz
run from flash with wait states hidden in part by an accelerator), the extra
cycle of ``LDR Rx, [PC, #imm]`` ("might add a cycle"), IT folding (IT
counts 1), conditional instructions that fail their condition inside an IT
block (charged as executed; only a block's final branch is known taken or
not), unaligned accesses, bus contention, exception entry and return
(12 cycles each on hardware), the operand-dependent divide time.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from edgekit.emulator.toolchain import ARM_GCC, check_toolchain
from edgekit.errors import EmulatorError

__all__ = ["TIMING_CLASSES", "MNEMONIC_CLASS", "TimingModel", "Instruction", "CycleEstimate",
           "decode", "instruction_cycles", "disassemble", "trace_cycles", "TRACE_FLAGS", "MODELED_TARGET"]

#: The one core whose timing the model describes (QEMU mps2-an386).
MODELED_TARGET = "cortex-m4"
#: ``-d`` flags QEMU needs for :func:`trace_cycles` (with ``-D logfile``).
TRACE_FLAGS = "exec,nochain,in_asm"

_SIMD = " ".join(p + op for p in ("s", "q", "sh", "u", "uq", "uh")
                for op in ("add16", "add8", "asx", "sax", "sub16", "sub8"))
_IT = " ".join("it" + "".join(s) for n in range(4) for s in itertools.product("te", repeat=n))
#: The timing table: class -> (base cycles, mnemonics).  "N": registers (FP:
#: words) moved, "D": ``divide_cycles``, "P": ``pipeline_refill``; the TRM rows
#: are in the module docstring.  Branches add P when taken, loads lose a cycle
#: when pipelined, memory accesses gain one after an ALU result (see
#: :func:`instruction_cycles`).
TIMING_CLASSES: dict[str, tuple[str, str]] = {
    "alu": ("1", "adc add addw adr and asr bfc bfi bic clz cmn cmp cpy eor lsl lsr mov movw "
                 "movt mvn neg orn orr rbit rev rev16 revsh ror rrx rsb sbc sbfx ssat ssat16 "
                 "sub subw teq tst ubfx usat usat16 sxtb sxth uxtb uxth sxtab sxtah uxtab "
                 "uxtah sxtb16 uxtb16 sxtab16 uxtab16 pkhbt pkhtb sel qadd qsub qdadd qdsub "
                 "usad8 usada8 " + _SIMD),
    "mul": ("1", "mul mla mls smull umull smlal umlal umaal smulbb smulbt smultb smultt "
                 "smulwb smulwt smlabb smlabt smlatb smlatt smlawb smlawt smlalbb smlalbt "
                 "smlaltb smlaltt smlad smladx smlsd smlsdx smlald smlaldx smlsld smlsldx "
                 "smuad smuadx smusd smusdx smmul smmulr smmla smmlar smmls smmlsr"),
    "div": ("D", "sdiv udiv"),
    "load": ("2", "ldr ldrb ldrh ldrsb ldrsh ldrt ldrbt ldrht ldrsbt ldrsht ldrex ldrexb "
                  "ldrexh"),
    "store": ("1", "str strb strh strt strbt strht strex strexb strexh"),  # reg offset: 2
    "load_double": ("3", "ldrd"),
    "store_double": ("3", "strd"),
    "load_multiple": ("1+N", "ldm ldmia ldmfd ldmdb ldmea pop"),
    "store_multiple": ("1+N", "stm stmia stmea stmdb stmfd push"),
    "branch": ("1", "b bl blx bx cbz cbnz"),
    "table_branch": ("3", "tbb tbh"),   # 3.3.2: load 2 + add 1, then the reload
    "it": ("1", _IT),
    "nop": ("1", "nop yield sev wfi wfe pld pli"),
    "barrier": ("1", "dmb dsb"),
    "isb": ("1+P", "isb"),
    "system": ("1", "mrs msr cpsid cpsie svc bkpt udf"),
    "fp": ("1", "vadd vsub vmul vnmul vabs vneg vcmp vcmpe vcvt vcvtr vcvtb vcvtt vmov vmrs "
                "vmsr"),   # VMOV of two core registers: 2
    "fp_mac": ("3", "vmla vmls vnmla vnmls vfma vfms vfnma vfnms"),
    "fp_divsqrt": ("14", "vdiv vsqrt"),
    "fp_load": ("1+N", "vldr"),
    "fp_store": ("1+N", "vstr"),
    "fp_multiple": ("1+N", "vldm vldmia vldmdb vstm vstmia vstmdb vpush vpop"),
}
#: Base mnemonic (no condition, no ``s``, no ``.w``) -> timing class.
MNEMONIC_CLASS: dict[str, str] = {m: k for k, (_, ms) in TIMING_CLASSES.items()
                                   for m in ms.split()}

_CONDS = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt",
          "gt", "le", "al")
_REGS = {f"r{i}": i for i in range(16)} | {"sb": 9, "sl": 10, "fp": 11, "ip": 12, "sp": 13,
                                           "lr": 14, "pc": 15}
_NO_DEST = {"cmp", "cmn", "tst", "teq"}
_LONG_DEST = {"smull", "umull", "smlal", "umlal", "umaal", "smlald", "smlaldx", "smlsld",
              "smlsldx", "smlalbb", "smlalbt", "smlaltb", "smlaltt"}
_MEMORY = {"load", "store", "load_double", "store_double", "load_multiple", "store_multiple",
           "fp_load", "fp_store", "fp_multiple", "table_branch"}
_DATA = {"alu", "mul", "div"}


@dataclass(frozen=True)
class TimingModel:
    """The free parameters of the timing model.

    Attributes
    ----------
    pipeline_refill : int
        P, cycles to refill the pipeline after a taken branch (TRM: 1-3).
    divide_cycles : int
        Cycles of SDIV/UDIV (TRM: 2-12, data dependent).
    """

    pipeline_refill: int = 2
    divide_cycles: int = 12


@dataclass(frozen=True)
class Instruction:
    """One decoded Thumb instruction and its static timing facts.

    Attributes
    ----------
    addr, size : int
        Address and length in bytes.
    text : str
        Mnemonic and operands as disassembled.
    kind : str
        Timing class (a key of :data:`TIMING_CLASSES`, or ``"unknown"``).
    base : int
        Cycles before the dynamic rules (pipelining, stalls, taken branch).
    writes_pc : bool
        A branch: P is added when the next instruction is not at ``addr + size``.
    dests, addr_regs : frozenset of int
        Registers written; registers the address is computed from.
    pipelines : bool
        Loses a cycle after a load it does not depend on (loads, STR reg offset).
    """

    addr: int
    size: int
    text: str
    kind: str
    base: int
    writes_pc: bool
    dests: frozenset = frozenset()
    addr_regs: frozenset = frozenset()
    pipelines: bool = False


def _split_operands(ops: str) -> list[str]:
    """Split at the commas outside ``[...]`` and ``{...}``."""
    return [o.strip() for o in re.split(r",(?![^\[{]*[\]}])", ops) if o.strip()]


def _reg_list(text: str) -> list[str]:
    """Registers of ``{r4, r5-r7, d8-d9}`` (ranges expanded)."""
    regs = []
    for item in text.strip("{}^ ").split(","):
        item = item.strip()
        m = re.fullmatch(r"([a-z]+)(\d+)-[a-z]+(\d+)", item)
        if m:
            regs += [f"{m[1]}{i}" for i in range(int(m[2]), int(m[3]) + 1)]
        elif item:
            regs.append(item)
    return regs


def _base_mnemonic(mnem: str) -> str | None:
    m = mnem.split(".")[0]
    cands = [m]
    if m[-2:] in _CONDS:
        cands.append(m[:-2])
    if m.endswith("s"):
        cands.append(m[:-1])
    if m[-2:] in _CONDS and m[:-2].endswith("s"):
        cands.append(m[:-3])
    return next((c for c in cands if c in MNEMONIC_CLASS), None)


def _regs_in(text: str) -> frozenset:
    return frozenset(_REGS[t] for t in re.findall(r"[a-z]+\d*", text) if t in _REGS)


def decode(addr: int, size: int, mnemonic: str, operands: str,
           model: TimingModel = TimingModel()) -> Instruction:
    """Decode one disassembled instruction into its timing facts.

    Parameters
    ----------
    addr, size : int
        Address and length (2 or 4 bytes).
    mnemonic, operands : str
        As printed by ``objdump`` (or QEMU), e.g. ``"ldr.w"``, ``"r4, [sl, #68]"``.
    model : TimingModel, optional
        Refill and divide parameters.

    Returns
    -------
    Instruction
        Unknown mnemonics get kind ``"unknown"`` and 1 cycle.
    """
    mnem = mnemonic.lower().strip()
    ops_text = operands.split("@")[0].split(";")[0].strip().lower()
    base = _base_mnemonic(mnem)
    text = f"{mnem} {ops_text}".strip()
    if base is None:
        return Instruction(addr, size, text, "unknown", 1, False)
    kind = MNEMONIC_CLASS[base]
    ops = _split_operands(ops_text)
    first = _REGS.get(ops[0].rstrip("!")) if ops else None
    dests: set[int] = set()
    addr_regs: frozenset = frozenset()
    formula = TIMING_CLASSES[kind][0]
    cycles, pipelines = (int(formula) if formula.isdigit() else 1), False
    bracket = next((o for o in ops if o.startswith("[")), "")
    if kind in _DATA:
        if base not in _NO_DEST and first is not None:
            dests.add(first)
            if base in _LONG_DEST and len(ops) > 1 and ops[1] in _REGS:
                dests.add(_REGS[ops[1]])
        cycles = model.divide_cycles if kind == "div" else 1
    elif kind in ("load", "store", "load_double", "store_double", "fp_load", "fp_store"):
        addr_regs = _regs_in(bracket)
        if kind == "load":
            dests.add(first if first is not None else -1)
            cycles, pipelines = 2, first != 15
        elif kind == "store":
            pipelines = sum(t in _REGS for t in re.findall(r"[a-z]+\d*", bracket)) > 1
            cycles = 2 if pipelines else 1
        elif kind == "load_double":
            dests |= {_REGS.get(o, -1) for o in ops[:2]}
            cycles = 3
        elif kind == "store_double":
            cycles = 3
        else:
            cycles = 1 + (2 if ops and ops[0].startswith("d") else 1)
    elif kind in ("load_multiple", "store_multiple", "fp_multiple"):
        listed = next((o for o in ops if o.startswith("{")), "{}")
        regs = _reg_list(listed)
        words = sum(2 if r.startswith("d") else 1 for r in regs)
        base_reg = 13 if base in ("push", "pop", "vpush", "vpop") else first
        addr_regs = frozenset({base_reg} if base_reg is not None else ())
        if kind == "load_multiple":
            dests |= {_REGS[r] for r in regs if r in _REGS}
        cycles = 1 + words
    elif kind == "table_branch":
        addr_regs = _regs_in(bracket)
        cycles = 3          # 3.3.2: "two cycles for the load, one cycle for the add"
    elif kind == "isb":
        cycles = 1 + model.pipeline_refill
    elif kind == "fp" and base == "vmov" and sum(o in _REGS for o in ops) >= 2:
        cycles = 2
    writes_pc = kind in ("branch", "table_branch") or 15 in dests
    return Instruction(addr, size, text, kind, cycles, writes_pc, frozenset(dests),
                       addr_regs, pipelines)


def instruction_cycles(prev: Instruction | None, cur: Instruction) -> int:
    """Cycles of ``cur`` executed right after ``prev``, a taken branch's refill excluded.

    Parameters
    ----------
    prev : Instruction or None
        The instruction executed before (None: a neutral one).
    cur : Instruction
        The instruction to time.

    Returns
    -------
    int
        ``cur.base``, plus one for an address computed by ``prev`` (a data
        processing instruction), minus one when ``cur`` pipelines after the
        load ``prev``.
    """
    c = cur.base
    if prev is not None and cur.kind in _MEMORY:
        if prev.kind in _DATA and prev.dests & cur.addr_regs:
            c += 1                          # 3.3.2: address from the previous ALU result
        if (cur.pipelines and prev.kind == "load" and prev.pipelines
                and not prev.dests & cur.addr_regs):
            c -= 1                          # 3.3.2: pipelined after a load
    return c


def disassemble(elf: str | Path, model: TimingModel = TimingModel()
                ) -> tuple[dict[int, Instruction], dict[str, int]]:
    """Decode every instruction of an ELF with ``arm-none-eabi-objdump -d``.

    Parameters
    ----------
    elf : str or pathlib.Path
        A Thumb firmware image.
    model : TimingModel, optional
        Refill and divide parameters.

    Returns
    -------
    dict of int to Instruction
        By address.
    dict of str to int
        Symbol (function) name -> address.

    Raises
    ------
    edgekit.errors.EmulatorError
        If objdump fails.
    """
    objdump = str(Path(check_toolchain(qemu=False)[ARM_GCC]).with_name("arm-none-eabi-objdump"))
    try:
        out = subprocess.run([objdump, "-d", str(elf)], capture_output=True, text=True,
                             check=True, timeout=300).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmulatorError(f"cannot disassemble {elf} with {objdump}: {exc}") from None
    insns: dict[int, Instruction] = {}
    symbols: dict[str, int] = {}
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) <([^>]+)>:$", line)
        if m:
            symbols.setdefault(m[2], int(m[1], 16))
            continue
        parts = line.split("\t")
        if len(parts) < 3 or not parts[0].strip().endswith(":"):
            continue
        mnem = parts[2].strip()
        if not mnem or mnem.startswith("."):
            continue
        addr = int(parts[0].strip()[:-1], 16)
        size = len(parts[1].replace(" ", "")) // 2
        insns[addr] = decode(addr, size, mnem, parts[3] if len(parts) > 3 else "", model)
    return insns, symbols


@dataclass
class CycleEstimate:
    """Estimated Cortex-M4 cycles of each ``edgekit_invoke()`` of a traced run.

    Attributes
    ----------
    cycles : list of int
        Per case: the whole ``edgekit_invoke()``, the bodies of the profiling
        hooks excluded (their call sites included).
    instructions : list of int
        Per case: instructions of the same span, exact (from the trace).
    per_op : list of dict
        ``{"index", "op", "cycles", "instructions"}``: mean over cases of the
        kernel call between ``edgekit_profile_begin(i)`` and ``_end(i)``.
    per_op_cases : numpy.ndarray
        ``int64`` ``(N, NUM_OPS, 2)``: cycles and instructions per case and op.
    by_class : dict of str to int
        Cycles per timing class over all cases (dynamic rules included in the
        class of the instruction that pays them).
    model : TimingModel
        The parameters used.
    """

    cycles: list[int]
    instructions: list[int]
    per_op: list[dict[str, Any]]
    per_op_cases: np.ndarray
    by_class: dict[str, int] = field(default_factory=dict)
    model: TimingModel = TimingModel()

    @property
    def ratio(self) -> float:
        """Cycles per instruction over all cases."""
        return sum(self.cycles) / max(1, sum(self.instructions))


class _Block:
    """A translated block: its instructions, and their cycles after the first."""

    __slots__ = ("insns", "n", "inner", "first", "last", "end", "classes", "after")

    def __init__(self, insns: list[Instruction]):
        self.insns, self.n = insns, len(insns)
        self.first, self.last = insns[0], insns[-1]
        self.end = self.last.addr + self.last.size
        self.after: dict[int, int] = {}        # id(previous instruction) -> first's cycles
        self.classes: dict[str, int] = {}
        for a, b in zip(insns, insns[1:]):
            self.classes[b.kind] = self.classes.get(b.kind, 0) + instruction_cycles(a, b)
        self.inner = sum(self.classes.values())


def _call_arg(insns: dict[int, Instruction], call: Instruction) -> int | None:
    """The constant in r0 at a call site (``movs r0, #k`` a few instructions before)."""
    addr = call.addr
    for _ in range(8):
        prev = insns.get(addr - 2) or insns.get(addr - 4)
        if prev is None or prev.writes_pc:
            return None
        addr = prev.addr
        if 0 in prev.dests:
            m = re.fullmatch(r"movs?(?:\.w)?|movw", prev.text.split()[0])
            k = re.search(r"#(-?\d+)", prev.text)
            return int(k[1], 0) if m and k and prev.kind == "alu" and "," in prev.text else None
    return None


def trace_cycles(trace: Iterable[str], elf_insns: dict[int, Instruction],
                 symbols: dict[str, int], op_names: list[str],
                 model: TimingModel = TimingModel()) -> CycleEstimate:
    """Apply the timing model to a QEMU ``-d exec,nochain,in_asm`` log.

    Parameters
    ----------
    trace : iterable of str
        Lines of the QEMU log.
    elf_insns, symbols : dict
        From :func:`disassemble` of the ELF that ran.
    op_names : list of str
        The op names (from the harness output).
    model : TimingModel, optional
        Must be the model the instructions were decoded with.

    Returns
    -------
    CycleEstimate

    Raises
    ------
    edgekit.errors.EmulatorError
        If the log lacks the blocks it executes or ``edgekit_invoke`` never ran.
    """
    try:
        invoke = symbols["edgekit_invoke"]
    except KeyError:
        raise EmulatorError("the firmware has no edgekit_invoke: not an edgekit model") from None
    begin, end = symbols.get("edgekit_profile_begin", -1), symbols.get("edgekit_profile_end", -1)
    n_ops = len(op_names)
    P = model.pipeline_refill
    blocks: dict[str, _Block] = {}
    cut_blocks: dict[tuple[str, int], _Block] = {}
    exec_counts: dict[_Block, int] = {}       # executions inside edgekit_invoke
    dyn_class: dict[str, int] = {}            # cycles of the rules across blocks
    pending: list[int] | None = None
    reading_in = False
    cases: list[dict[str, Any]] = []
    state = {"invoke_ret": None, "hook_ret": None, "op": None}
    cur: tuple[_Block, Any, str] | None = None     # block, label, host key
    prev_insn: Instruction | None = None
    last_end = -1

    def insn_at(a: int) -> Instruction:
        if a not in elf_insns:
            raise EmulatorError(f"the trace executes 0x{a:x}, which the ELF's disassembly lacks")
        return elf_insns[a]

    def label_for(pc: int) -> Any:
        if state["hook_ret"] is not None:
            if pc != state["hook_ret"]:
                return "hook"
            state["hook_ret"] = None
        if state["invoke_ret"] is None:
            if pc != invoke:
                return None
            state["invoke_ret"] = last_end
            cases.append({"cycles": 0, "instr": 0, "ops": [[0, 0] for _ in range(n_ops)],
                          "begins": 0})
        elif pc == state["invoke_ret"]:
            state["invoke_ret"] = None
            return None
        if pc in (begin, end):
            state["hook_ret"] = last_end
            if pc == begin:
                call = elf_insns.get(cur[0].last.addr) if cur else None
                k = _call_arg(elf_insns, call) if call else None
                case = cases[-1]
                state["op"] = k if k is not None and 0 <= k < n_ops else case["begins"]
                case["begins"] += 1
            else:
                state["op"] = None
            return "hook"
        return ("op", state["op"]) if state["op"] is not None else "other"

    def finish(next_pc: int) -> None:
        nonlocal prev_insn
        blk, label, _ = cur
        fc = blk.after.get(id(prev_insn))
        if fc is None:
            fc = blk.after[id(prev_insn)] = instruction_cycles(prev_insn, blk.first)
        taken = next_pc != blk.end and blk.last.writes_pc
        cyc = blk.inner + fc + (P if taken else 0)
        prev_insn = blk.last
        if label is None or label == "hook":
            return
        case = cases[-1]
        case["cycles"] += cyc
        case["instr"] += blk.n
        if label != "other":
            acc = case["ops"][label[1]]
            acc[0] += cyc
            acc[1] += blk.n
        exec_counts[blk] = exec_counts.get(blk, 0) + 1
        if fc:
            dyn_class[blk.first.kind] = dyn_class.get(blk.first.kind, 0) + fc
        if taken:
            dyn_class[blk.last.kind] = dyn_class.get(blk.last.kind, 0) + P

    for line in trace:
        if reading_in:
            if line.startswith("0x"):
                pending.append(int(line[2:line.index(":")], 16))
                continue
            if line.startswith("OBJD-T:"):    # a QEMU without disassembler: bytes only
                pending.append(-len(line.split(":", 1)[1].strip()) // 2)
                continue
            reading_in = False
        if line.startswith("Trace "):
            host = line.split(" ", 3)[2]
            if pending:                      # the block just translated runs first
                pc = int(line.split(" ", 4)[3][1:].split("/")[1], 16)
                if pending[0] < 0:           # OBJD-T: walk the ELF's code for those bytes
                    pending, left = [pc], -sum(pending) - insn_at(pc).size
                    while left > 0:
                        pending.append(pending[-1] + insn_at(pending[-1]).size)
                        left -= insn_at(pending[-1]).size
                if pending[0] == pc:
                    blocks[host] = _Block([insn_at(a) for a in pending])
                    pending = None
            blk = blocks.get(host)
            if blk is None:
                raise EmulatorError(f"trace line without its translated block: {line.strip()}")
            pc = blk.first.addr
            if cur is not None:
                finish(pc)
                last_end = cur[0].end
            cur = (blk, label_for(pc), host)
        elif line.startswith("IN:"):
            pending, reading_in = [], True
        elif line.startswith("Stopped execution of TB chain") and cur is not None:
            cur = None                       # that block did not run
        elif line.startswith("cpu_io_recompile: rewound execution of TB to") and cur:
            stop = int(line.split()[-1], 16)
            key = (cur[2], stop)
            if key not in cut_blocks:
                kept = [i for i in cur[0].insns if i.addr < stop]
                cut_blocks[key] = _Block(kept) if kept else None
            cut = cut_blocks[key]
            cur = (cut, cur[1], cur[2]) if cut else None
    if cur is not None:
        finish(-1)
    if not cases:
        raise EmulatorError("the trace never enters edgekit_invoke")
    by_class = dict(dyn_class)
    for blk, n in exec_counts.items():
        for kind, c in blk.classes.items():
            by_class[kind] = by_class.get(kind, 0) + c * n
    per_case = np.array([c["ops"] for c in cases], np.int64).reshape(len(cases), n_ops, 2)
    per_op = [{"index": i, "op": op_names[i],
               "cycles": int(round(float(per_case[:, i, 0].mean()))),
               "instructions": int(round(float(per_case[:, i, 1].mean())))}
              for i in range(n_ops)]
    return CycleEstimate(cycles=[c["cycles"] for c in cases],
                         instructions=[c["instr"] for c in cases], per_op=per_op,
                         per_op_cases=per_case, by_class=by_class, model=model)
