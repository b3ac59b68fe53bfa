"""Generation-time path selection of the optimized kernels (``ek_paths.h``).

The code generator writes ``ek_paths.h`` listing which paths of the optimized
CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED kernels the model's layers take
(edgekit/firmware_export/kernel_paths.py); the kernels compile only those, so
the firmware links no path it does not run, and a layer whose path is left out
traps instead of silently taking another one.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from edgekit.emulator import build_firmware, build_host, run_host
from edgekit.errors import EmulatorError
from edgekit.firmware_export import generate, read_tflite

HAVE_ARM = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("arm-none-eabi-nm")

# KWS DS-CNN, by its shapes: conv1 10x4 stride 2 on one channel (K = 40) and
# four 1x1 64 -> 64 convolutions, all on 25 x 5 = 125 outputs with the full
# int8 range and right shifts -> six-pixel im2col on DSP cores, all by
# channel pairs (K = 40 and 64: ekopt_dsp6_channels is not linked); elsewhere the
# run-based loop (conv1, padded) and the 1x1 loop.  Four 3x3 stride-1
# depthwise layers on rows of 25 outputs -> assembly rows at stride 1 (DSP),
# the generic plane loop elsewhere.  FC 64 -> 12, per tensor, with bias ->
# the asm unit loop (DSP), the plain-C loop elsewhere.
KWS_PATHS = {"EKOPT_CONV_SIX", "EKOPT_CONV_PAIR40", "EKOPT_CONV_PAIR64", "EKOPT_CONV_1X1_C",
             "EKOPT_CONV_RUN_C",
             "EKOPT_DW_THREE_S1", "EKOPT_DW_GENERIC_C", "EKOPT_FC_UNITS", "EKOPT_FC_PLAIN_C"}
# Functions of paths KWS does not take (static, some never inlined): none may
# be linked on Cortex-M4.
KWS_M4_ABSENT = {"ekopt_conv_pair", "ekopt_conv_one", "ekopt_conv_dsp", "ekopt_dsp6_channels",
                 "ek_conv_reference_buf",
                 "ek_depthwise_conv_channel", "ek_depthwise_conv_reference", "dw_group",
                 "ek_fully_connected_reference", "ekopt_fc_rq_slow"}
# Issue 13: KWS flash (ELF text) at most +10% over 46,024 bytes (before its kernels).
KWS_TEXT_LIMIT = 50_626


def _listed(src_dir) -> set[str]:
    text = (src_dir / "ek_paths.h").read_text()
    assert re.search(r"#define EKOPT_PATHS_ALL\s+0\b", text)
    return set(re.findall(r"#define (EKOPT_\w+)\s+1\b", text))


def _symbols(elf) -> set[str]:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    # gcc's clones keep the name before the dot (ekopt_col_pixel.constprop.0).
    return {line.split()[-1].split(".")[0] for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def kws(mlperf_dir, tmp_path_factory):
    tflite = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    src = tmp_path_factory.mktemp("kws") / "src"
    generate(read_tflite(tflite), src)
    return tflite, src


def test_kws_lists_the_paths_of_its_layers(kws):
    _, src = kws
    assert _listed(src) == KWS_PATHS


def test_reference_kernel_set_has_no_paths_header(mlperf_dir, tmp_path):
    exp = generate(read_tflite(mlperf_dir / "kws_ref_model.tflite"), tmp_path,
                   kernels="reference")
    assert "ek_paths.h" not in exp.files and not (tmp_path / "ek_paths.h").exists()


@pytest.mark.skipif(not HAVE_ARM, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m3"])
def test_kws_firmware_links_only_its_paths(kws, tmp_path, target):
    _, src = kws
    fw = build_firmware(src, tmp_path / target, target)
    syms = _symbols(fw.elf)
    if target == "cortex-m4":
        assert not syms & KWS_M4_ABSENT, sorted(syms & KWS_M4_ABSENT)
        assert {"ekopt_dsp3_pairs_40", "ekopt_dsp3_pairs_64", "ekopt_fc_units_fast"} <= syms
        assert fw.text <= KWS_TEXT_LIMIT, f"KWS text {fw.text:,} B > {KWS_TEXT_LIMIT:,}"
    else:
        # No DSP: the plain-C loops only, none of the DSP paths.
        dsp = {"ekopt_dsp3_pairs_40", "ekopt_dsp3_pairs_64", "ekopt_col_pixel", "ekopt_fc_units_fast", "ekopt_fc_dsp",
               "ekopt_conv_dsp"}
        assert not syms & dsp, sorted(syms & dsp)
        assert {"ekopt_conv_pair", "ekopt_conv_one"} <= syms


def test_a_path_left_out_traps(kws, tmp_path):
    """The host build takes the plain-C paths; with the depthwise one left out
    of ek_paths.h the kernel must stop, not compute something else."""
    tflite, src = kws
    graph = read_tflite(tflite)
    x = np.zeros((1, graph.tensors[graph.inputs[0]].num_elements), dtype=np.uint8)
    exe = build_host(src, tmp_path / "ok", sanitize=False)
    assert run_host(exe, x).shape[0] == 1
    bad = tmp_path / "src"
    shutil.copytree(src, bad)
    header = bad / "ek_paths.h"
    text = header.read_text()
    header.write_text(re.sub(r"(#define EKOPT_DW_GENERIC_C\s+)1", r"\g<1>0", text))
    assert header.read_text() != text
    with pytest.raises(EmulatorError):
        run_host(build_host(bad, tmp_path / "bad", sanitize=False), x)


@pytest.mark.skipif(not HAVE_ARM, reason="needs arm-none-eabi-gcc")
def test_depthwise_lists_only_its_unrolled_tap_pair_copy(tmp_path):
    """A 5x5 depthwise layer on 3 channels (the generic plane loop, 3 tap pairs
    per row) lists EKOPT_DW_NP3 and none of the other unrolled copies; built
    with that list it stays bit-exact with tflite_micro on Cortex-M4."""
    import keras

    from edgekit.reference import run_tflm
    from tests.kernel_harness import random_inputs, run_generated_qemu, single_op_model

    def build(ins):
        return keras.layers.DepthwiseConv2D(5, padding="same",
                                            bias_initializer="random_normal")(ins[0])

    tflite = single_op_model(build, [(8, 7, 3)], seed=5)
    xs = random_inputs(tflite, 4, 5)
    got = run_generated_qemu(tflite, xs, keep=str(tmp_path))
    listed = _listed(tmp_path / "src")
    assert {"EKOPT_DW_GENERIC_DSP", "EKOPT_DW_NP3"} <= listed
    assert not {"EKOPT_DW_NP2", "EKOPT_DW_NP4", "EKOPT_DW_NP5"} & listed
    ref = np.asarray(run_tflm(tflite, xs))
    np.testing.assert_array_equal(got, ref.reshape(got.shape))


@pytest.mark.skipif(not HAVE_ARM, reason="needs arm-none-eabi-gcc")
def test_add_and_sub_list_only_their_loops(tmp_path):
    """SUB of two activations (a flat subtract loop) and an ADD broadcasting a
    per-row mean (the reference loop): ek_paths.h lists those two paths of
    ek_add_s8 and no other; built with that list, bit-exact on Cortex-M4."""
    import tensorflow as tf

    from edgekit.reference import run_tflm
    from tests.kernel_harness import random_inputs, run_generated_qemu, single_op_model

    def build(ins):
        x = ins[0]
        d = tf.nn.relu(x) - tf.math.tanh(x)
        return d + tf.reduce_mean(x, axis=-1, keepdims=True)

    tflite = single_op_model(build, [(6, 5)], seed=2, keras=False, low=-2.0, high=2.0)
    xs = random_inputs(tflite, 4, 2)
    got = run_generated_qemu(tflite, xs, keep=str(tmp_path))
    listed = {n for n in _listed(tmp_path / "src") if n.startswith(("EKOPT_ADD", "EKOPT_SUB"))}
    assert "EKOPT_ADD_REF" in listed and len(listed) == 2, listed
    assert len({n for n in listed if n.startswith("EKOPT_SUB")}) == 1, listed
    ref = np.asarray(run_tflm(tflite, xs))
    np.testing.assert_array_equal(got, ref.reshape(got.shape))
