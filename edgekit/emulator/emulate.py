"""Run a built firmware ELF once more under QEMU and tabulate its per-op counts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from edgekit.emulator.run import EmulatorRun, run_qemu
from edgekit.emulator.toolchain import check_toolchain
from edgekit.errors import ConfigError, EmulatorError


def _symbols(elf: Path) -> list[list[str]]:
    """``arm-none-eabi-nm -S -t d`` of ``elf``, split into fields per line."""
    tools = check_toolchain(qemu=False)
    nm = str(Path(tools["arm-none-eabi-gcc"]).with_name("arm-none-eabi-nm"))
    try:
        out = subprocess.run([nm, "-S", "-t", "d", str(elf)], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise EmulatorError(f"cannot read symbols of {elf}: {e}") from None
    return [line.split() for line in out.splitlines()]


def _symbol_size(elf: Path, name: str) -> int:
    symbols = _symbols(elf)
    for parts in symbols:
        if len(parts) == 4 and parts[3] == name:
            return int(parts[1])
    if name == "edgekit_input" and any(p[-1:] == ["edgekit_audio_main"] for p in symbols):
        raise ConfigError(f"{elf} is a firmware from sound: run it with --wav FILE.wav")
    raise EmulatorError(f"{elf} has no symbol {name}: not an edgekit firmware")


def emulate(elf: str | Path, target: str = "cortex-m4", inputs: str | Path | None = None,
            cases: int = 1, seed: int = 0) -> EmulatorRun:
    """Run ``elf`` (built by edgekit) under QEMU.

    Parameters
    ----------
    elf : path
    target : str
        The target it was built for.
    inputs : path, optional
        Raw input bytes (``.bin``, N x input size) or a ``.npy`` array; by
        default ``cases`` random int8 inputs (``numpy.random.default_rng(seed)``).
    """
    elf = Path(elf)
    if not elf.is_file():
        raise ConfigError(f"firmware {elf} does not exist")
    n_in = _symbol_size(elf, "edgekit_input")
    if inputs is None:
        if cases < 1:
            raise ConfigError(f"cases must be >= 1 (got {cases})")
        data = np.random.default_rng(seed).integers(-128, 128, (cases, n_in), dtype=np.int8)
    else:
        p = Path(inputs)
        try:
            arr = np.load(p) if p.suffix == ".npy" else np.fromfile(p, dtype=np.int8)
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read inputs {p}: {e}") from None
        raw = np.ascontiguousarray(arr).view(np.uint8).reshape(-1)
        if raw.size == 0 or raw.size % n_in:
            raise ConfigError(f"inputs {p} hold {raw.size} bytes, not a multiple of the "
                              f"model's input size {n_in}")
        data = raw.reshape(-1, n_in).view(np.int8)
    return run_qemu(elf, data.view(np.uint8), target=target)


def format_per_op(run: EmulatorRun) -> str:
    total = sum(p["instructions"] for p in run.per_op) or 1
    lines = [f"{'#':>3}  {'op':22} {'instructions':>14} {'share':>6}"]
    for p in run.per_op:
        lines.append(f"{p['index']:>3}  {p['op']:22} {p['instructions']:>14,} "
                     f"{100 * p['instructions'] / total:>5.1f}%")
    lines.append(f"     {'per inference':22} {int(np.mean(run.instructions)):>14,}")
    lines.append(f"     stack high-water mark: {run.stack_bytes} bytes; counted with {run.clock}")
    return "\n".join(lines)


#: The audio harness's refusal of a clip at another rate (edgekit_audio_harness.c).
_RATE_ERR = re.compile(r"clip sample rate (\d+) Hz, the front end takes (\d+) Hz")


def emulate_wav(elf: str | Path, wav: str | Path, target: str = "cortex-m4",
                timeout: float = 600.0) -> dict:
    """Run a WAV file through a firmware from sound (``edgekit_push_audio``) under QEMU.

    The firmware (``firmware/<target>-audio/model.elf`` of a build whose
    features are the front end's, or ``stream/firmware/<target>-audio`` of a
    streaming one) is reset, the whole file is pushed in chunks of 256
    samples, and every model run is reported.  A file shorter than one model
input (``window + (num_frames - 1) * stride`` samples) is followed by silence
up to that length by the harness, as clips are in training, so that it gets a
decision.  QEMU runs once: the harness refuses a file at another rate than
its front end's.

    Parameters
    ----------
    elf : path
        An audio firmware (built with :data:`edgekit.emulator.AUDIO_DEFINES`).
    wav : path
        A mono or multi-channel WAV (channels averaged) at the front end's rate.
    target : str
        The target it was built for.
    timeout : float
        Seconds before QEMU is stopped.

    Returns
    -------
    dict
        ``wav``, ``sample_rate``, ``samples``, ``padded_samples``, ``frames``,
        ``run_every_frames``, ``chunk_samples``, ``streaming`` (and for a
        streaming model ``hop_frames``), ``runs`` (each: ``frames``,
        ``end_ms`` -- the end of the sound its input covers -- ``scores`` and
        ``decision``), the front end's and the model's instructions,
        ``stack_bytes``.

    Raises
    ------
    edgekit.errors.DataError
        For an unreadable or corrupt WAV, or one whose sample rate is not
        the front end's (the message names both rates; resample it first).
    edgekit.errors.ConfigError
        If ``elf`` is missing or not a firmware from sound.
    """
    from edgekit.data.wav import read_wav, to_pcm  # noqa: PLC0415
    from edgekit.emulator.audio import run_audio_qemu  # noqa: PLC0415
    from edgekit.errors import DataError  # noqa: PLC0415

    elf = Path(elf)
    if not elf.is_file():
        raise ConfigError(f"firmware {elf} does not exist")
    if not any(p[-1:] == ["edgekit_audio_main"] for p in _symbols(elf)):
        raise ConfigError(f"{elf} is not a firmware from sound (no edgekit_push_audio harness); "
                          "use firmware/<target>-audio/model.elf of a build with the front end")
    samples, rate = read_wav(wav)
    try:
        run = run_audio_qemu(elf, [to_pcm(samples)], rate, target=target, timeout=timeout)
    except EmulatorError as e:
        m = _RATE_ERR.search(str(e))
        if m is None:
            raise
        raise DataError(f"{wav}: sample rate {m.group(1)} Hz, but the firmware's front end takes "
                        f"{m.group(2)} Hz (resample it first, e.g. "
                        "edgekit.data.resample.read_wav_at)") from None
    clip = run.clips[0]
    runs = [{"frames": r["frames"],
             "end_ms": round(1000.0 * ((r["frames"] - 1) * run.stride + run.window_size) / rate, 3),
             "scores": [int(v) for v in r["scores"]], "decision": int(np.argmax(r["scores"])),
             "instructions": r["instructions"]} for r in clip.runs]
    out = {"wav": str(wav), "sample_rate": rate, "samples": clip.samples,
           "padded_samples": clip.padded, "seconds": round(clip.samples / rate, 3),
           "frames": clip.frames, "num_frames": run.num_frames, "streaming": run.streaming}
    if run.streaming:
        out["hop_frames"] = run.hop
    out.update({"run_every_frames": run.run_every, "chunk_samples": run.chunk, "runs": runs,
                "frontend_instructions_per_stride":
                    int(round(run.frontend_instructions_per_stride())),
                "stack_bytes": run.stack_bytes})
    return out
