"""Spike-sparse layers (passes/spike_sparse.py, ops/spike_fc.py, kernels/ek_spike_fc.c):
golden tests against tflite_micro running the dense layer on spike-valued inputs.

One-op FULLY_CONNECTED and 1x1 CONV_2D models whose input is quantized with two
codes (calibrated on 0/1 data: scale 1/255, zero point -128, the one at 127)
are rewritten with the input taken as a spike tensor; every input pattern the
tests draw (rates 0 to 1) has only those two codes.  A small spiking model
(Dense -> LIF -> Dense) checks the analysis: the second Dense reads the LIF's
spikes, proven from the graph alone.
"""

import subprocess

import numpy as np
import pytest

from tests.kernel_harness import CFLAGS, HOST_MAIN, NP_DTYPES, single_op_model

RATES = (0.0, 0.05, 0.2, 0.5, 0.9, 1.0)
OFF, ON = -128, 127


def _binary(rng, shapes):
    return [(rng.random(s) < 0.5).astype(np.float32) for s in shapes]


def _spikes(graph, n_per_rate, seed):
    x = graph.tensors[graph.inputs[0]]
    shape = tuple(int(d) for d in x.shape)
    rng = np.random.default_rng(seed)
    return np.concatenate([np.where(rng.random((n_per_rate, *shape)) < r, ON, OFF)
                           for r in RATES]).astype(np.int8)


def _sparse_graph(tflite, counts=None):
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_layer import lif_layers
    from edgekit.firmware_export.passes.spike_sparse import sparse_spikes

    graph = read_tflite(tflite)
    x = graph.tensors[graph.inputs[0]]
    assert (x.zp, round(1 / x.s)) == (OFF, 255), (x.zp, x.s)
    sparse = sparse_spikes(lif_layers(fuse_lif(graph)), assume={x.index: (OFF, ON)})
    assert sparse.op_counts() == (counts or {"EK_SPIKE_FC": 1}), sparse.op_counts()
    return sparse


def _run_host(graph, xs, out_dir):
    from edgekit.firmware_export.codegen import generate

    generate(graph, out_dir)
    srcs = sorted(str(p) for p in out_dir.glob("*.c")) + [str(HOST_MAIN)]
    exe = out_dir / "run"
    cc = subprocess.run(["gcc", *CFLAGS, "-I", str(out_dir), "-o", str(exe), *srcs, "-lm"],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    (out_dir / "in.bin").write_bytes(xs.reshape(len(xs), -1).tobytes())
    run = subprocess.run([str(exe), str(out_dir / "in.bin"), str(out_dir / "out.bin")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    y = graph.tensors[graph.outputs[0]]
    return np.frombuffer((out_dir / "out.bin").read_bytes(), NP_DTYPES[y.dtype]).reshape(
        len(xs), -1)


def _golden(tflite, graph, xs, got):
    from edgekit.reference import run_tflm

    ref = np.asarray(run_tflm(tflite, xs)).reshape(got.shape)
    np.testing.assert_array_equal(got, ref)


def _golden_qemu(tflite, graph, xs, tmp_path):
    """Build ``tmp_path/src`` (already generated) for the Cortex-M4, run ``xs`` in QEMU,
    compare with tflite_micro."""
    from edgekit.emulator import build_firmware, run_qemu

    fw = build_firmware(tmp_path / "src", tmp_path / "fw", target="cortex-m4")
    run = run_qemu(fw.elf, xs.reshape(len(xs), -1).view(np.uint8), target="cortex-m4")
    got = np.asarray(run.outputs, dtype=np.uint8).reshape(len(xs), -1).view(np.int8)
    _golden(tflite, graph, xs, got)


FC_CASES = [  # (input shape, units, activation, bias)
    ((37,), 5, "linear", True),
    ((4, 24), 13, "relu", True),
    ((64,), 16, "linear", False),
]


@pytest.mark.parametrize("case", range(len(FC_CASES)))
def test_spike_fully_connected_bit_exact(case, tmp_path):
    import keras
    shape, units, act, bias = FC_CASES[case]

    def build(ins):
        return keras.layers.Dense(units, activation=act, use_bias=bias,
                                  bias_initializer="random_normal")(ins[0])

    tflite = single_op_model(build, [shape], 40 + case, dataset=_binary)
    graph = _sparse_graph(tflite)
    xs = _spikes(graph, 4, case)
    _golden(tflite, graph, xs, _run_host(graph, xs, tmp_path))


def test_spike_conv_1x1_bit_exact(tmp_path):
    import keras

    def build(ins):
        return keras.layers.Conv2D(11, 1, bias_initializer="random_normal")(ins[0])

    tflite = single_op_model(build, [(3, 5, 20)], 7, dataset=_binary)
    graph = _sparse_graph(tflite)
    assert graph.opcodes() == ["CONV_2D"]        # the file's opcode, for the profile
    xs = _spikes(graph, 3, 7)
    _golden(tflite, graph, xs, _run_host(graph, xs, tmp_path))


def test_spike_fc_on_cortex_m4_simd_path(tmp_path):
    """Units in blocks of eight (SXTAB16 on the M4) and a tail; 300 inputs: at
    rate 1 more active rows than an int16 lane may sum at once (255)."""
    import keras

    from edgekit.firmware_export.codegen import generate

    def build(ins):
        return keras.layers.Dense(20, bias_initializer="random_normal")(ins[0])

    tflite = single_op_model(build, [(300,)], 11, dataset=_binary)
    graph = _sparse_graph(tflite)
    xs = _spikes(graph, 1, 11)
    generate(graph, tmp_path / "src")
    _golden_qemu(tflite, graph, xs, tmp_path)



@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_spike_blocks_requantized_on_cortex_m4(kind, tmp_path):
    """At most 255 inputs with the fast requantization: each block of eight
    units is requantized as it is summed (per tensor: FULLY_CONNECTED with a
    RELU6 clamp; per channel: 1x1 CONV_2D, the rows of four per unit), a tail
    of units the other way."""
    import keras

    from edgekit.firmware_export.codegen import generate

    def build(ins):
        if kind == "dense":
            return keras.layers.Dense(21, activation="relu6",
                                      bias_initializer="random_normal")(ins[0])
        return keras.layers.Conv2D(19, 1, bias_initializer="random_normal")(ins[0])

    shape = [(6, 48)] if kind == "dense" else [(3, 4, 40)]
    tflite = single_op_model(build, shape, 12, dataset=_binary)
    graph = _sparse_graph(tflite)
    xs = _spikes(graph, 2, 12)
    generate(graph, tmp_path / "src")
    _golden_qemu(tflite, graph, xs, tmp_path)

def test_spike_fc_clamped_above_its_zero_feeds_a_lif_on_cortex_m4(tmp_path):
    """A per-channel FULLY_CONNECTED whose output clamps at a code above -128
    (the LIF's current clip folded into it, as W_u's in the spiking
    LMUFormer): its blocks give code - act_min (the rounding add holds
    -act_min << rsh), clamped by USAT, then SSAT.  (The LIF clips its current
    again, so codes below act_min would not show in its spikes: this checks
    the shifted requantization, not the lower clamp.)"""
    import keras

    from edgekit.firmware_export.codegen import generate
    from edgekit.firmware_export.ops.spike_fc import lower
    from edgekit.models.spiking import LIF
    from edgekit.quantize import quantize_int8

    keras.utils.set_random_seed(0)
    x = keras.Input((12, 48))
    h = keras.layers.Dense(19, bias_initializer="random_normal")(x)
    s = LIF(threshold=1.0, decay=0.5, reset="hard")(h)
    rep = (np.random.default_rng(0).random((64, 12, 48)) < 0.3).astype(np.float32)
    tflite = quantize_int8(keras.Model(x, s), rep, num_samples=64)
    graph = _sparse_graph(tflite, {"EK_SPIKE_FC": 1, "EK_LIF_LAYER": 1})
    (op,) = [o for o in graph.operators if o.opcode == "EK_SPIKE_FC"]
    p = lower(op, graph).params
    assert p["fast_rq"] and p["per_channel"] and len(p["chan"]) == 4 * 19
    assert -128 < p["act_min"] and p["act_max"] == 127
    xs = _spikes(graph, 3, 13)
    generate(graph, tmp_path / "src")
    _golden_qemu(tflite, graph, xs, tmp_path)


def test_lif_spikes_feed_a_sparse_layer(tmp_path):
    """The analysis finds the LIF's spikes (fused steps, concatenated) without help."""
    import keras

    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.spike_sparse import sparse_spikes, spike_codes
    from edgekit.models.spiking import LIF
    from edgekit.quantize import quantize_int8

    keras.utils.set_random_seed(3)
    x = keras.Input((8, 5))
    s = LIF(threshold=1.0, decay=0.5, reset="hard")(keras.layers.Dense(12)(x))
    model = keras.Model(x, keras.layers.Dense(6)(s))
    rng = np.random.default_rng(3)
    rep = (rng.standard_normal((64, 8, 5)) * 1.5).astype(np.float32)
    tflite = quantize_int8(model, rep, num_samples=64)
    fused = fuse_lif(read_tflite(tflite))
    codes = spike_codes(fused)
    assert codes and set(codes.values()) == {(OFF, ON)}, codes
    sparse = sparse_spikes(fused)
    assert sparse.op_counts().get("EK_SPIKE_FC") == 1, sparse.op_counts()
    # a layer reading a non-spike tensor (the first Dense) stays dense
    assert sparse.op_counts().get("FULLY_CONNECTED") == 1, sparse.op_counts()
    xs = np.random.default_rng(4).integers(-128, 128, (24, 8, 5), dtype=np.int8)
    got = _run_host(read_tflite(tflite), xs, tmp_path)    # generate() runs both passes
    assert "ek_spike_fc_s8(&" in (tmp_path / "model.c").read_text()
    _golden(tflite, None, xs, got)
    # the report's spike rate: of the sparse layer's input, over the inputs
    from edgekit.verify.spikes import spike_rates
    rates = spike_rates(tflite, read_tflite(tflite), xs)
    (index,) = [op.index for op in sparse.operators if op.opcode == "EK_SPIKE_FC"]
    assert list(rates) == [index] and rates[index]["opcode"] == "FULLY_CONNECTED"
    assert 0.0 < rates[index]["spike_rate"] < 1.0, rates



def test_sum_of_two_spike_tensors_by_table(tmp_path):
    """The residual ADD of two LIF layers' spikes (EK_SPIKE_ADD: four results
    from the ADD's arithmetic at export time), then a dense layer on the sum."""
    import keras

    from edgekit.emulator import build_firmware, run_qemu
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.fuse_lif import fuse_lif
    from edgekit.firmware_export.passes.lif_layer import lif_layers
    from edgekit.firmware_export.passes.spike_sparse import sparse_spikes
    from edgekit.models.spiking import LIF
    from edgekit.quantize import quantize_int8

    keras.utils.set_random_seed(5)
    x = keras.Input((8, 5))
    s1 = LIF(threshold=1.0, decay=0.5, reset="hard")(keras.layers.Dense(12)(x))
    s2 = LIF(threshold=1.0, decay=0.5, reset="hard")(keras.layers.Dense(12)(x))
    model = keras.Model(x, keras.layers.Dense(6)(keras.layers.Add()([s1, s2])))
    rng = np.random.default_rng(5)
    rep = (rng.standard_normal((64, 8, 5)) * 1.5).astype(np.float32)
    tflite = quantize_int8(model, rep, num_samples=64)
    sparse = sparse_spikes(lif_layers(fuse_lif(read_tflite(tflite))))
    assert sparse.op_counts().get("EK_SPIKE_ADD") == 1, sparse.op_counts()
    xs = np.random.default_rng(6).integers(-128, 128, (24, 8, 5), dtype=np.int8)
    got = _run_host(read_tflite(tflite), xs, tmp_path)
    assert "ek_spike_add_s8(&" in (tmp_path / "model.c").read_text()
    _golden(tflite, None, xs, got)
    fw = build_firmware(tmp_path, tmp_path / "fw", target="cortex-m4")     # and on the M4
    run = run_qemu(fw.elf, xs.reshape(len(xs), -1).view(np.uint8), target="cortex-m4")
    _golden(tflite, None, xs, np.asarray(run.outputs, dtype=np.uint8).reshape(len(xs), -1)
            .view(np.int8))


DW_CASES = [  # (steps, channels, depth multiplier, activation): the LMU memory's layout
    (9, 3, 8, "linear"),      # eight-channel blocks (SXTAB16 on the M4)
    (6, 2, 5, "relu"),        # not a multiple of 8: the plain loop
]


def _causal_dw_model(case):
    import keras
    steps, chans, mult, act = DW_CASES[case]

    def build(ins):
        x = keras.layers.ZeroPadding2D(((steps - 1, 0), (0, 0)))(ins[0])
        return keras.layers.DepthwiseConv2D((steps, 1), depth_multiplier=mult, activation=act,
                                            bias_initializer="random_normal")(x)

    return single_op_model(build, [(steps, 1, chans)], 60 + case, dataset=_binary)


def _sparse_dw_graph(tflite):
    from edgekit.firmware_export import read_tflite
    from edgekit.firmware_export.passes.spike_sparse import sparse_layers, sparse_spikes

    graph = read_tflite(tflite)
    x = graph.tensors[graph.inputs[0]]
    assert (x.zp, round(1 / x.s)) == (OFF, 255), (x.zp, x.s)
    sparse = sparse_spikes(graph, assume={x.index: (OFF, ON)})     # through the PAD
    assert sparse.op_counts() == {"PAD": 1, "EK_SPIKE_DW": 1}, sparse.op_counts()
    assert sparse.opcodes() == ["PAD", "DEPTHWISE_CONV_2D"]     # the file's, for the profile
    assert not sparse_layers(graph)      # the model input is not proven a spike tensor
    return sparse


@pytest.mark.parametrize("case,fold", [(0, True), (1, True), (0, False)])
def test_spike_causal_depthwise_bit_exact(case, fold, tmp_path, monkeypatch):
    """The causal PAD folded into the layer (passes/spike_pad.py: the kernel
    reads the unpadded spikes), or left as its own op (the pass off)."""
    from edgekit.firmware_export import codegen
    from edgekit.firmware_export.passes.spike_pad import fold_spike_pads

    if not fold:
        monkeypatch.setattr(codegen, "fold_spike_pads", lambda graph: graph)
    tflite = _causal_dw_model(case)
    graph = _sparse_dw_graph(tflite)
    folded = fold_spike_pads(graph)
    assert folded.op_counts() == {"EK_SPIKE_DW": 1}, folded.op_counts()
    (dw,) = folded.operators
    assert dw.options["pad"] == DW_CASES[case][0] - 1 and dw.inputs[0] == graph.inputs[0]
    assert sorted(folded.fused[dw.index]) == [0, 1]     # the PAD and the layer
    xs = _spikes(graph, 3, case)
    _golden(tflite, graph, xs, _run_host(graph, xs, tmp_path))
    assert ("ek_pad_s8(&" in (tmp_path / "model.c").read_text()) != fold


def test_spike_causal_depthwise_on_cortex_m4(tmp_path):
    """The eight-channel blocks of the depthwise path run only on DSP cores."""
    from edgekit.firmware_export.codegen import generate

    tflite = _causal_dw_model(0)
    graph = _sparse_dw_graph(tflite)
    xs = _spikes(graph, 2, 9)
    generate(graph, tmp_path / "src")
    model_c = (tmp_path / "src" / "model.c").read_text()
    assert "ek_spike_dw_s8(&" in model_c and "ek_pad_s8(&" not in model_c    # PAD folded
    _golden_qemu(tflite, graph, xs, tmp_path)
