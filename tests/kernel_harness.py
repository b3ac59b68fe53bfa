"""Helpers for the kernel golden tests (imported by tests/test_kernel_*.py).

``single_op_model`` builds a tiny Keras model (or a plain TensorFlow
function) and converts it to a full-int8 .tflite; ``run_generated_host``
exports a .tflite with edgekit's code generator, compiles the C with the
host gcc (warnings are errors) and runs it over a batch of inputs;
``run_tflm`` (from :mod:`edgekit.reference`) is the golden reference.
Nothing is cached in the repository: every build goes to a temporary dir.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from edgekit.emulator.build import SANITIZE_CFLAGS, sanitize_requested  # noqa: E402
from edgekit.firmware_export.codegen import (KERNEL_SETS, generate,  # noqa: E402
                                             lower_graph, optimized_kernel_files)
from edgekit.firmware_export.graph import DTYPES  # noqa: E402
from edgekit.firmware_export.tflite_reader import read_tflite  # noqa: E402
from edgekit.reference import run_tflm  # noqa: E402

HOST_MAIN = Path(__file__).resolve().parent / "fixtures" / "kernel_host_main.c"
CFLAGS = ["-O1", "-std=c99", "-Wall", "-Wextra", "-Werror"]
NP_DTYPES = dict(DTYPES.values())


def kernel_sets(tflite_bytes: bytes) -> tuple[str, ...]:
    """The kernel sets whose C differs for this model: both when one of its
    ops has an optimized kernel, else only ``"optimized"`` (the two sets
    then copy the same kernel sources; see test_reference_kernels.py)."""
    sources = {low.source for low in lower_graph(read_tflite(bytes(tflite_bytes)))}
    return KERNEL_SETS if sources & optimized_kernel_files() else ("optimized",)


def run_generated_host(tflite_bytes: bytes, inputs: np.ndarray, *, keep: str | None = None,
                       kernels: str = "optimized") -> np.ndarray:
    """Run ``inputs`` (N, ...) through edgekit's generated C; outputs (N, ...).

    ``keep``: a directory to leave the generated sources in (for debugging);
    ``kernels``: the kernel set of :func:`generate`.
    """
    graph = read_tflite(bytes(tflite_bytes))
    x = graph.tensors[graph.inputs[0]]
    y = graph.tensors[graph.outputs[0]]
    inputs = np.asarray(inputs)
    with tempfile.TemporaryDirectory(prefix="ek_kernel_") as tmp:
        out_dir = Path(keep) if keep else Path(tmp)
        generate(graph, out_dir, kernels=kernels)
        exe = out_dir / "run"
        srcs = sorted(str(p) for p in out_dir.glob("*.c")) + [str(HOST_MAIN)]
        san = SANITIZE_CFLAGS if sanitize_requested() else ()
        cc = subprocess.run(["gcc", *CFLAGS, *san, "-I", str(out_dir), "-o", str(exe), *srcs, "-lm"],
                            capture_output=True, text=True)
        if cc.returncode:
            raise AssertionError(f"generated C does not compile:\n{cc.stderr}")
        in_path, out_path = out_dir / "in.bin", out_dir / "out.bin"
        xs = inputs.astype(NP_DTYPES[x.dtype]).reshape(len(inputs), -1)
        in_path.write_bytes(xs.tobytes())
        run = subprocess.run([str(exe), str(in_path), str(out_path)], capture_output=True,
                             text=True, timeout=60)
        if run.returncode:
            raise AssertionError(f"generated model failed (exit {run.returncode}): {run.stderr}")
        out = np.frombuffer(out_path.read_bytes(), dtype=NP_DTYPES[y.dtype])
    return out.reshape((len(inputs),) + tuple(int(d) for d in y.shape))


def _convert(build_fn, input_shapes, seed, *, low, high, keras, samples, dataset,
             supported_ops, input_type, output_type) -> bytes:
    """Build the tiny model and convert it with a random representative set."""
    import keras as K  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    if isinstance(input_shapes[0], int):
        input_shapes = [input_shapes]
    shapes = [(1, *map(int, s)) for s in input_shapes]
    K.utils.set_random_seed(seed)
    specs = [tf.TensorSpec(s, tf.float32) for s in shapes]
    if keras:
        ins = [K.Input(batch_shape=s) for s in shapes]
        conv = tf.lite.TFLiteConverter.from_keras_model(K.Model(ins, build_fn(ins)))
    else:
        fn = tf.function(lambda *xs: build_fn(list(xs)), input_signature=specs)
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    rng = np.random.default_rng(seed + 7919)

    def rep():
        for _ in range(samples):
            if dataset is not None:
                yield [np.asarray(a, np.float32) for a in dataset(rng, shapes)]
            else:
                yield [rng.uniform(low, high, s).astype(np.float32) for s in shapes]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [supported_ops]
    conv.inference_input_type = input_type
    conv.inference_output_type = output_type
    return bytes(conv.convert())


def single_op_model(build_fn, input_shapes, seed: int, *, low: float = -1.0, high: float = 1.0,
                    keras: bool = True, samples: int = 32, output_float: bool = False,
                    inference_input_type=None, dataset=None) -> bytes:
    """Build and convert a tiny model to full-int8 TFLite.

    ``build_fn`` gets the list of inputs and returns the output: Keras
    inputs (``keras=True``; use layers / ``keras.ops``) or ``tf.Tensor``s of
    a traced ``tf.function`` (``keras=False``; any TensorFlow op).
    ``input_shapes`` are without the batch dimension (batch is 1, static).
    Weights are drawn from ``seed``; the representative dataset is uniform
    random float data in [low, high] (which sets the input scale), or what
    ``dataset(rng, shapes)`` returns (one list of arrays per call).
    """
    import tensorflow as tf  # noqa: PLC0415

    return _convert(build_fn, input_shapes, seed, low=low, high=high, keras=keras,
                    samples=samples, dataset=dataset,
                    supported_ops=tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                    input_type=inference_input_type or tf.int8,
                    output_type=tf.float32 if output_float else tf.int8)


def random_inputs(tflite_bytes: bytes, n: int, seed: int) -> np.ndarray:
    """``n`` random int8 inputs for the model's input tensor."""
    graph = read_tflite(bytes(tflite_bytes))
    shape = tuple(int(d) for d in graph.tensors[graph.inputs[0]].shape)
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, (n, *shape), dtype=np.int8)


def opcodes(tflite_bytes: bytes) -> list[str]:
    return [op.opcode for op in read_tflite(bytes(tflite_bytes)).operators]


def check_golden(tflite_bytes: bytes, seed: int, case: dict, n: int = 8,
                 expect_ops: tuple = ()) -> None:
    """Assert edgekit's output equals tflite_micro's byte for byte."""
    ops_ = opcodes(tflite_bytes)
    for name in expect_ops:
        assert name in ops_, f"seed={seed} case={case}: no {name} in converted model {ops_}"
    xs = random_inputs(tflite_bytes, n, seed)
    ref = run_tflm(tflite_bytes, xs)
    for kernels in kernel_sets(tflite_bytes):
        got = run_generated_host(tflite_bytes, xs, kernels=kernels)
        _assert_same(got, np.asarray(ref).reshape(got.shape),
                     f"seed={seed} case={case} ops={ops_} kernels={kernels}")


def assert_same(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    """Assert ``got`` equals ``ref`` bit for bit (floats by their bits);
    the message names ``what`` and the first differing value."""
    _assert_same(got, ref, what)


def _assert_same(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    if got.dtype.kind == "f":
        same = np.array_equal(got.view(np.uint32), ref.astype(got.dtype).view(np.uint32))
    else:
        same = np.array_equal(got, ref)
    if not same:
        d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        bad = np.argwhere(d > 0)
        raise AssertionError(
            f"{what}: not bit-exact with tflite_micro: "
            f"{len(bad)} of {d.size} values differ, max diff {d.max()}, first at "
            f"{tuple(bad[0])}: ours {got[tuple(bad[0])]} tflm {ref[tuple(bad[0])]}")


def run_generated_qemu(tflite_bytes: bytes, inputs: np.ndarray, target: str = "cortex-m4", *,
                       keep: str | None = None, kernels: str = "optimized",
                       scratch_allowance: int | None = None) -> np.ndarray:
    """Run ``inputs`` (N, ...) through edgekit's generated C built for a
    Cortex-M ``target`` and executed under QEMU; outputs (N, ...) of the
    model output's type (the harness moves bytes: int8 or int16).

    Unlike :func:`run_generated_host` this compiles the kernels with the
    target's flags, so the ``__ARM_FEATURE_DSP`` / inline-asm paths of the
    optimized kernels run on cores that have them (cortex-m4/m7/m33/m55).
    ``keep``: a directory to leave the sources and the firmware in;
    ``kernels``, ``scratch_allowance``: as for :func:`generate` (0 keeps a
    small model's convolutions on their smallest-scratch paths).
    """
    from edgekit.emulator import build_firmware, run_qemu  # noqa: PLC0415
    from edgekit.firmware_export import generate as fw_generate  # noqa: PLC0415

    graph = read_tflite(bytes(tflite_bytes))
    x = graph.tensors[graph.inputs[0]]
    y = graph.tensors[graph.outputs[0]]
    if NP_DTYPES[y.dtype] not in (np.int8, np.int16):
        raise ValueError(f"run_generated_qemu: int8 or int16 outputs only, not {y.dtype}")
    inputs = np.asarray(inputs)
    n = len(inputs)
    with tempfile.TemporaryDirectory(prefix="ek_kernel_qemu_") as tmp:
        base = Path(keep) if keep else Path(tmp)
        src_dir, out_dir = base / "src", base / "fw"
        src_dir.mkdir(parents=True, exist_ok=True)
        fw_generate(graph, src_dir, kernels=kernels, scratch_allowance=scratch_allowance)
        fw = build_firmware(src_dir, out_dir, target=target)
        xs = inputs.astype(NP_DTYPES[x.dtype]).reshape(n, -1).view(np.uint8)
        run = run_qemu(fw.elf, xs, target=target)
    out = np.asarray(run.outputs, dtype=np.uint8).reshape(n, -1).view(NP_DTYPES[y.dtype])
    return out.reshape((n,) + tuple(int(d) for d in y.shape))


def single_op_model_16x8(build_fn, input_shapes, seed: int, *, low: float = -1.0,
                         high: float = 1.0, keras: bool = True, samples: int = 32,
                         dataset=None) -> bytes:
    """Like :func:`single_op_model`, converted in TFLite's 16x8 mode: int16
    activations (zero point 0), int8 weights, int64 bias, int16 input and
    output."""
    import tensorflow as tf  # noqa: PLC0415

    return _convert(build_fn, input_shapes, seed, low=low, high=high, keras=keras,
                    samples=samples, dataset=dataset,
                    supported_ops=tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                    input_type=tf.int16, output_type=tf.int16)


def check_golden_typed(tflite_bytes: bytes, seed: int, case: dict, n: int = 8,
                       expect_ops: tuple = ()) -> None:
    """:func:`check_golden` with inputs drawn over the full range of the
    model's input type (int8 or int16)."""
    ops_ = opcodes(tflite_bytes)
    for name in expect_ops:
        assert name in ops_, f"seed={seed} case={case}: no {name} in converted model {ops_}"
    graph = read_tflite(bytes(tflite_bytes))
    x = graph.tensors[graph.inputs[0]]
    dt = NP_DTYPES[x.dtype]
    info = np.iinfo(dt)
    rng = np.random.default_rng(seed)
    xs = rng.integers(info.min, info.max + 1, (n, *(int(d) for d in x.shape))).astype(dt)
    ref = run_tflm(tflite_bytes, xs)
    for kernels in kernel_sets(tflite_bytes):
        got = run_generated_host(tflite_bytes, xs, kernels=kernels)
        _assert_same(got, np.asarray(ref).reshape(got.shape),
                     f"seed={seed} case={case} ops={ops_} kernels={kernels}")


#: Inputs run per case by :func:`check_op_qemu`.
N_QEMU_INPUTS = 6


def check_op_qemu(model: bytes, seed: int, case: dict, target: str, expect_op: str,
                scratch_allowance: int | None = None) -> None:
    """Assert a single-op model's firmware outputs equal tflite_micro's, byte for byte.

    Runs :data:`N_QEMU_INPUTS` random inputs (the first two saturated to -128
    and 127) on ``target`` under QEMU; ``case`` and ``seed`` are in the
    failure message (tests/emulator/test_kernels_qemu*.py).
    """
    ops_ = opcodes(model)
    assert expect_op in ops_, f"seed={seed} case={case}: no {expect_op} in {ops_}"
    xs = random_inputs(model, N_QEMU_INPUTS, seed)
    xs[0] = -128            # saturating inputs in the first two cases
    xs[1] = 127
    ref = np.asarray(run_tflm(model, xs))
    got = run_generated_qemu(model, xs, target=target, scratch_allowance=scratch_allowance)
    ref = ref.reshape(got.shape).astype(np.int8)
    if not np.array_equal(got, ref):
        bad = np.argwhere(got != ref)
        d = np.abs(got.astype(np.int32) - ref.astype(np.int32))
        first = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"seed={seed} target={target} case={case} ops={ops_}: not bit-exact with "
            f"tflite_micro: {len(bad)} of {d.size} values differ, max diff {d.max()}, first "
            f"at {first}: ours {got[first]} tflm {ref[first]}")


def random_act_bias(r: np.random.Generator) -> dict:
    """A random activation, bias use and input range for a Keras layer case."""
    return dict(act=str(r.choice(["linear", "relu", "relu6"])), use_bias=bool(r.random() < 0.8),
                lo=float(-r.uniform(0.1, 4)), hi=float(r.uniform(0.1, 4)))
