"""Run a built firmware ELF once more under QEMU and tabulate its per-op counts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from edgekit.emulator.run import EmulatorRun, run_qemu
from edgekit.emulator.toolchain import check_toolchain
from edgekit.errors import ConfigError, EmulatorError


def _symbol_size(elf: Path, name: str) -> int:
    tools = check_toolchain(qemu=False)
    nm = str(Path(tools["arm-none-eabi-gcc"]).with_name("arm-none-eabi-nm"))
    try:
        out = subprocess.run([nm, "-S", "-t", "d", str(elf)], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise EmulatorError(f"cannot read symbols of {elf}: {e}") from None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[1])
    if name == "edgekit_input" and any(ln.split()[-1:] == ["edgekit_audio_main"]
                                       for ln in out.splitlines()):
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


def emulate_wav(elf: str | Path, wav: str | Path, target: str = "cortex-m4",
                timeout: float = 600.0, pad: bool = True) -> dict:
    """Run a WAV file through a firmware from sound (``edgekit_push_audio``) under QEMU.

    The firmware (``firmware/<target>-audio/model.elf`` of a build whose
    features are the front end's) is reset, the whole file is pushed in
    chunks of 256 samples, and every model run is reported.  A file shorter
than one model input (``window + (num_frames - 1) * stride`` samples) is
followed by silence up to that length (``pad``), as clips are in training,
so that it gets a decision.

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
    pad : bool
        Zero-pad a file shorter than one model input to that length.

    Returns
    -------
    dict
        ``wav``, ``sample_rate``, ``samples``, ``frames``, ``run_every_frames``,
        ``chunk_samples``, ``runs`` (each: ``frames``, ``end_ms`` -- the end of
        the sound its input covers -- ``scores`` and ``decision``), the
        front end's and the model's instructions, ``stack_bytes``.

    Raises
    ------
    edgekit.errors.DataError
        For an unreadable or corrupt WAV, or one whose sample rate is not
        the front end's (resample it first).
    edgekit.errors.ConfigError
        If ``elf`` is missing or not a firmware from sound.
    """
    from edgekit.data.wav import read_wav, to_pcm  # noqa: PLC0415
    from edgekit.emulator.audio import parse_audio_output, run_audio_qemu  # noqa: PLC0415
    from edgekit.emulator.run import run_qemu_log  # noqa: PLC0415
    from edgekit.errors import DataError  # noqa: PLC0415

    elf = Path(elf)
    if not elf.is_file():
        raise ConfigError(f"firmware {elf} does not exist")
    samples, rate = read_wav(wav)
    probe = run_qemu_log(elf, b"", target=target, timeout=60.0)
    if "AUDIO" not in {ln.split()[0] for ln in probe.splitlines() if ln.split()}:
        raise ConfigError(f"{elf} is not a firmware from sound (no edgekit_push_audio harness); "
                          "use firmware/<target>-audio/model.elf of a build with the front end")
    info = parse_audio_output(probe)
    fw_rate = info.sample_rate
    if rate != fw_rate:
        raise DataError(f"{wav}: sample rate {rate} Hz, but the firmware's front end takes "
                        f"{fw_rate} Hz (resample it first, e.g. edgekit.data.resample)")
    pcm = to_pcm(samples)
    span = info.window_size + (info.num_frames - 1) * info.stride
    padded = max(0, span - pcm.size) if pad else 0
    if padded:
        pcm = np.concatenate([pcm, np.zeros(padded, dtype=np.int16)])
    run = run_audio_qemu(elf, [pcm], rate, target=target, timeout=timeout)
    clip = run.clips[0]
    runs = [{"frames": r["frames"],
             "end_ms": round(1000.0 * ((r["frames"] - 1) * run.stride + run.window_size) / rate, 3),
             "scores": [int(v) for v in r["scores"]], "decision": int(np.argmax(r["scores"])),
             "instructions": r["instructions"]} for r in clip.runs]
    return {"wav": str(wav), "sample_rate": rate, "samples": clip.samples - padded,
            "padded_samples": padded,
            "seconds": round((clip.samples - padded) / rate, 3), "frames": clip.frames,
            "num_frames": run.num_frames, "run_every_frames": run.run_every,
            "chunk_samples": run.chunk, "runs": runs,
            "frontend_instructions_per_stride": int(round(run.frontend_instructions_per_stride())),
            "stack_bytes": run.stack_bytes}
