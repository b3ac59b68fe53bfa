"""Tests of ``edgekit budget`` / ``edgekit targets`` (edgekit.budget).

The per-layer figures are checked against the flatbuffer read through
tflite_micro's own schema module (not edgekit's reader), MACs against a
hand count for kws_ref_model and against TFLM's benchmark CSV; flash comes
from the compiled ELF, RAM from the plan plus the stack measured in QEMU.
"""

from __future__ import annotations

import csv
import json
import re
import os
import shutil
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.budget import (BudgetError, budget, budget_target_names, list_targets, parse_bytes,
                            resolve_target)
from edgekit.budget.targets import load_boards
from edgekit.cli import main
from edgekit.errors import ConfigError, ModelError
from edgekit.log import Progress

HAVE_QEMU = shutil.which("arm-none-eabi-gcc") is not None and shutil.which(
    "qemu-system-arm") is not None
needs_qemu = pytest.mark.skipif(not HAVE_QEMU and not os.environ.get("CI"),  # fail under CI
                                reason="arm toolchain or qemu-system-arm missing")
SHARED = Path(__file__).resolve().parents[3] / "shared"
MODELS = ("kws_ref_model", "ad01_int8", "pretrainedResnet_quant", "vww_96_int8",
          "str_ww_ref_model")

# kws_ref_model (DS-CNN): 49x10x1 input, conv 10x4 stride 2 -> 25x5x64, then 4 x
# (depthwise 3x3 + pointwise 1x1, 64 channels), average pool, FC 64 -> 12.
KWS_HAND_MACS = [
    25 * 5 * 64 * 10 * 4 * 1,           # conv 10x4x1 -> 320,000
    *[25 * 5 * 64 * 3 * 3, 25 * 5 * 64 * 64] * 4,  # dw 72,000 ; pw 512,000
    0, 0,                               # average pool, reshape
    12 * 64,                            # FC 768
    0,                                  # softmax
]


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _schema_layers(path: Path) -> list[dict]:
    """Op type, shapes, constant elements and MACs straight from the flatbuffer."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    m = s.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    sg = m.subgraphs[0]
    out = []
    for op in sg.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        name = names[max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))]
        ts = [sg.tensors[i] for i in op.inputs if i >= 0]
        const = [t for t in ts if m.buffers[t.buffer].data is not None
                 and len(m.buffers[t.buffer].data) > 0]
        shapes = [list(map(int, t.shape)) for t in ts if t not in const]
        oshape = list(map(int, sg.tensors[op.outputs[0]].shape))
        n_out = 1
        for d in oshape:
            n_out *= d
        w = list(map(int, ts[1].shape)) if len(ts) > 1 else []
        macs = {"CONV_2D": lambda: n_out * w[1] * w[2] * w[3],
                "DEPTHWISE_CONV_2D": lambda: n_out * w[1] * w[2],
                "FULLY_CONNECTED": lambda: n_out * w[-1]}.get(name, lambda: 0)()
        params = 0
        for t in const:
            n = 1
            for d in t.shape:
                n *= int(d)
            params += n
        out.append({"op": name, "inputs": shapes, "output": oshape, "params": params,
                    "macs": macs})
    return out


def _tflm_csv_macs() -> dict:
    p = SHARED / "benchmarks" / "tflm-cortex-m4-per-op.csv"
    rows: dict = {}
    if p.exists():
        with p.open() as f:
            for r in csv.DictReader(f):
                if r["kernels"] == "ref":
                    rows.setdefault(r["model"], {})[int(r["layer"])] = (r["op"], int(r["macs"]))
    return rows


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------- targets


def test_boards_have_sources_and_map_to_cores():
    from edgekit.emulator import TARGETS

    data = load_boards()
    assert set(data["cores"]) == set(TARGETS), "every core needs a CPI figure"
    for name, b in data["boards"].items():
        assert b["core"] in TARGETS, name
        assert b["flash_bytes"] > 0 and b["ram_bytes"] > 0 and b["clock_hz"] >= 1e6, name
        assert len(b["source"]) > 20, f"{name}: cite the datasheet"
    nrf = data["boards"]["nrf52840"]
    assert (nrf["flash_bytes"], nrf["ram_bytes"], nrf["clock_hz"]) == (1 << 20, 256 << 10, 64e6)
    rp = data["boards"]["rp2040"]
    assert (rp["ram_bytes"], rp["clock_hz"], rp["core"]) == (264 << 10, 133e6, "cortex-m0plus")


@pytest.mark.parametrize("name, core", [("nrf52840", "cortex-m4"),
                                        ("Arduino-Nano-33-BLE-Sense", "cortex-m4"),
                                        ("stm32h743zi", "cortex-m7"), ("rp2040", "cortex-m0plus"),
                                        ("cortex-m", "cortex-m4"), ("cortex-m33", "cortex-m33")])
def test_board_names_resolve_to_their_core(name, core):
    t = resolve_target(name)
    assert t.core.name == core
    assert t.kind == ("core" if name.startswith("cortex") else "board")
    if t.kind == "core":   # a bare core fits against the QEMU board's memory
        assert (t.flash_bytes, t.ram_bytes) == (t.core.flash_size, t.core.ram_size)


def test_overrides_and_byte_parsing():
    t = resolve_target("nrf52840", flash=parse_bytes("256K"), ram=parse_bytes(8000))
    assert (t.flash_bytes, t.ram_bytes, t.clock_hz) == (262144, 8000, 64_000_000)
    assert parse_bytes("1M") == 1 << 20 and parse_bytes("64kb") == 65536
    for bad in ("lots", "-5", "0", "12Q"):
        with pytest.raises(ConfigError):
            parse_bytes(bad)


def test_unknown_target_lists_names(mlperf_dir, tmp_path):
    r = _run("budget", mlperf_dir / "kws_ref_model.tflite", "--target", "cortex-m99",
             "--out", tmp_path / "o")
    assert r.exit_code == 2
    assert "unknown target 'cortex-m99'" in r.output
    for name in ("cortex-m4", "cortex-m0plus", "nrf52840", "rp2040", "stm32h743zi"):
        assert name in r.output
    assert not (tmp_path / "o").exists()
    assert "nrf52840" in budget_target_names()


def test_bad_model_inputs_are_clear_errors(mlperf_dir, tmp_path):
    q = Progress(quiet=True)
    with pytest.raises(ConfigError, match="not a .tflite, a Keras file or a zoo architecture"):
        budget("no-such-arch", progress=q)
    with pytest.raises(ConfigError, match="takes an int8 .tflite"):
        budget(tmp_path / "model.onnx", progress=q)
    with pytest.raises(ModelError, match="cannot read"):
        budget(tmp_path / "missing.tflite", progress=q)
    with pytest.raises(ConfigError, match="headroom"):
        budget(mlperf_dir / "kws_ref_model.tflite", headroom=1.5, progress=q)


def test_targets_command_lists_cores_and_boards():
    r = _run("targets")
    assert r.exit_code == 0
    for s in ("cortex-m4", "mps2-an386", "cortex-m0plus", "microbit", "nrf52840", "RP2040",
              "stm32h743zi", "480 MHz", "DS12110"):
        assert s in r.output, s
    info = json.loads(_run("targets", "--json").output)
    assert {c["name"] for c in info["cores"]} >= {"cortex-m4", "cortex-m55", "cortex-m0plus"}
    assert all(c["qemu_runs"] in (True, False) and c["cpi"] for c in info["cores"])
    assert info == json.loads(json.dumps(list_targets()))


# ---------------------------------------------------------------- budget runs


@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("name", MODELS)
def test_budget_mlperf_model_on_cortex_m4(name, mlperf_dir, tmp_path):
    model = mlperf_dir / f"{name}.tflite"
    out = tmp_path / "budget"
    out.mkdir()
    (out / "keep.txt").write_text("not ours")
    r = _run("budget", model, "--target", "cortex-m4", "--out", out)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "budget.json").read_text())
    assert (out / "keep.txt").exists() and not list(out.glob(".budget.tmp*"))

    # per layer: op, shapes, params and MACs as in the flatbuffer (tflite_micro's schema)
    ref = _schema_layers(model)
    layers = rep["layers"]
    assert [x["op"] for x in layers] == [x["op"] for x in ref]
    for got, want in zip(layers, ref):
        assert got["inputs"] == want["inputs"], got["index"]
        assert got["outputs"][0] == want["output"], got["index"]
        assert got["params"] == want["params"], got["index"]
        assert got["macs"] == want["macs"], got["index"]
        assert got["instructions"] is not None and got["instructions"] >= 0
        assert got["activation_bytes"] <= rep["ram"]["arena_bytes"]
    assert rep["totals"]["macs"] == sum(x["macs"] for x in ref)
    assert rep["totals"]["params"] <= sum(x["params"] for x in ref)  # shared tensors once
    assert rep["totals"]["params"] > 0.95 * sum(x["params"] for x in ref)

    # MACs: independent cross-check with TFLM's benchmark table (within 1%)
    csv_macs = _tflm_csv_macs().get(name)
    if csv_macs:
        assert [csv_macs[i][0] for i in range(len(layers))] == [x["op"] for x in layers]
        total = sum(m for _, m in csv_macs.values())
        assert abs(rep["totals"]["macs"] - total) <= 0.01 * total
        for x in layers:
            assert abs(x["macs"] - csv_macs[x["index"]][1]) <= 0.01 * max(x["macs"], 1)

    # flash from the ELF; weights = the model's constant bytes (plus alignment)
    fl = rep["flash"]
    assert fl["total_bytes"] == fl["text_bytes"] + fl["data_bytes"] > 0
    assert fl["weights_bytes"] + fl["op_params_bytes"] + fl["edgekit_code_bytes"] + \
        fl["other_bytes"] == fl["total_bytes"]
    assert 0.9 * fl["model_weight_bytes"] <= fl["weights_bytes"] <= fl["model_weight_bytes"] + \
        16 * len(layers)
    assert fl["weights_bytes"] < fl["total_bytes"]

    # RAM: arena between the lower bound and TFLM's arena; stack measured in QEMU
    ram = rep["ram"]
    assert ram["lower_bound_bytes"] <= ram["arena_bytes"] <= ram["tflm_arena_bytes"]
    assert 0 < ram["stack_bytes"] < ram["stack_reserved_bytes"]
    assert ram["total_bytes"] == ram["static_bytes"] + ram["stack_bytes"]
    assert ram["static_bytes"] >= ram["arena_bytes"]
    assert len(ram["live_bytes_per_step"]) == len(layers) + 2
    assert max(ram["live_bytes_per_step"]) == ram["lower_bound_bytes"]
    assert ram["lower_bound_no_inplace_bytes"] > 0
    assert f"{ram['lower_bound_no_inplace_bytes']:,} B without in-place" in r.output

    # time: per-layer instructions add up to (about) the whole inference
    assert rep["instructions"] > 0
    per_layer = sum(x["instructions"] for x in layers)
    assert 0.9 * rep["instructions"] <= per_layer <= rep["instructions"]
    lat = rep["latency"]
    assert lat["estimate"] is True
    assert lat["ms"] == pytest.approx(rep["instructions"] * lat["cpi"] / lat["clock_hz"] * 1e3)
    assert rep["target"]["core"] == "cortex-m4" and rep["target"]["measured_on"] == "mps2-an386"
    assert rep["fits"] is True and rep["overflows"] == []

    # terminal table: one row per op plus totals, figures as in the JSON
    rows = [ln for ln in r.output.splitlines() if re.match(r"\s*\d+\s+[A-Z_0-9]+\s", ln)]
    assert len(rows) == len(layers)
    for ln, x in zip(rows, layers):
        assert x["op"] in ln and f"{x['params']:,}" in ln and f"{x['macs']:,}" in ln
    assert f"{fl['total_bytes']:,} B" in r.output and f"{ram['arena_bytes']:,}" in r.output

    # outputs: Markdown and a real PNG
    md = (out / "budget.md").read_text()
    assert "| # | op |" in md and f"{rep['totals']['macs']:,}" in md
    w, h = _png_size(out / "budget.png")
    assert w >= 600 and h >= 400
    assert 15_000 < (out / "budget.png").stat().st_size < 2_000_000


@needs_qemu
@pytest.mark.qemu
def test_kws_macs_match_the_hand_count(mlperf_dir):
    rep = budget(mlperf_dir / "kws_ref_model.tflite", target="nrf52840",
                 progress=Progress(quiet=True)).data
    macs = [x["macs"] for x in rep["layers"]]
    assert len(macs) == len(KWS_HAND_MACS)
    for got, want in zip(macs, KWS_HAND_MACS):
        assert abs(got - want) <= 0.01 * max(want, 1)
    assert rep["totals"]["macs"] == pytest.approx(sum(KWS_HAND_MACS), rel=0.01)
    assert rep["layers"][0]["params"] == 64 * 10 * 4 * 1 + 64          # weights + biases
    # a board: its core's machine, its datasheet figures for the fit and the clock
    assert rep["target"]["kind"] == "board" and rep["target"]["core"] == "cortex-m4"
    assert rep["target"]["measured_on"] == "mps2-an386"
    assert rep["ram"]["capacity_bytes"] == 256 * 1024
    assert rep["ram"]["budget_bytes"] == int(256 * 1024 * 0.9)
    assert rep["latency"]["clock_hz"] == 64_000_000 and rep["latency"]["cpi"] == 1.2
    assert rep["fits"]


@needs_qemu
@pytest.mark.qemu
def test_fail_on_budget_names_the_ram_overflow(mlperf_dir, tmp_path):
    r = _run("budget", mlperf_dir / "kws_ref_model.tflite", "--ram", "8000", "--fail-on-budget",
             "--out", tmp_path / "o")
    assert r.exit_code == 2
    m = re.search(r"RAM overflows by ([\d,]+) bytes", r.output)
    assert m, r.output
    rep = json.loads((tmp_path / "o" / "budget.json").read_text())   # written before failing
    assert int(m.group(1).replace(",", "")) == rep["ram"]["total_bytes"] - 7200
    assert rep["fits"] is False and rep["ram"]["fits"] is False and rep["flash"]["fits"]
    assert "CONV_2D" in r.output                              # the table is still printed
    # without the flag the same overflow is reported, exit 0
    r = _run("budget", mlperf_dir / "kws_ref_model.tflite", "--ram", "8000")
    assert r.exit_code == 0 and "RAM overflows by" in r.output


@needs_qemu
@pytest.mark.qemu
def test_board_too_small_for_vww(mlperf_dir):
    with pytest.raises(BudgetError) as exc:
        budget(mlperf_dir / "vww_96_int8.tflite", target="stm32f103c8", fail_on_budget=True,
               progress=Progress(quiet=True))
    msg = str(exc.value)
    rep = exc.value.report.data
    assert rep["target"]["core"] == "cortex-m3" and rep["target"]["measured_on"] == "mps2-an385"
    over = rep["flash"]["total_bytes"] - int(64 * 1024 * 0.9)
    assert f"flash overflows by {over:,} bytes" in msg
    assert "RAM overflows by" in msg            # 83 KB of .bss in 20 KB of SRAM


@needs_qemu
@pytest.mark.qemu
def test_m0plus_board_is_measured_with_armv6m_code(mlperf_dir):
    # kws's RAM (arena 8,976 B with its dw/pw convs in place, + stack) fits the microbit
    # machine's 16 KB: the ARMv6-M ELF runs on the Cortex-M0+ itself (a model that does not
    # fit there runs on mps2-an385, see targets.py)
    rep = budget(mlperf_dir / "kws_ref_model.tflite", target="rp2040",
                 progress=Progress(quiet=True)).data
    assert rep["target"]["core"] == "cortex-m0plus"
    assert rep["target"]["measured_on"] == "microbit"
    assert rep["instructions"] > 0 and rep["fits"]
    assert rep["latency"]["clock_hz"] == 133_000_000


@needs_qemu
@pytest.mark.qemu
def test_zoo_name_and_keras_file_are_quantized_first(tmp_path):
    registry = pytest.importorskip("edgekit.models.registry")
    pytest.importorskip("edgekit.quantize.int8")
    import keras

    r = _run("budget", "dscnn", "--target", "cortex-m4", "--out", tmp_path / "zoo")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "zoo" / "budget.json").read_text())
    assert rep["model"]["source"] == "zoo" and rep["model"]["name"] == "zoo:dscnn"
    assert "random calibration" in rep["model"]["note"]
    assert rep["totals"]["macs"] > 0 and rep["instructions"] > 0

    # a small Keras file: FC 32 -> 16 -> 4, so params and MACs are known by hand (non-zero
    # biases: the converter drops all-zero ones)
    inp = keras.Input((32,))
    out = keras.layers.Dense(4, bias_initializer="ones")(
        keras.layers.Dense(16, activation="relu", bias_initializer="ones")(inp))
    path = tmp_path / "tiny.keras"
    keras.Model(inp, out).save(path)
    rep = budget(path, target="cortex-m3", progress=Progress(quiet=True)).data
    assert rep["model"]["source"] == "keras"
    fcs = [x for x in rep["layers"] if x["op"] == "FULLY_CONNECTED"]
    assert [x["macs"] for x in fcs] == [32 * 16, 16 * 4]
    assert [x["params"] for x in fcs] == [32 * 16 + 16, 16 * 4 + 4]
    assert registry.count_params(keras.Model(inp, out)) == 32 * 16 + 16 + 16 * 4 + 4


@pytest.mark.qemu
@pytest.mark.parametrize("core", ["cortex-m3", "cortex-m7", "cortex-m33", "cortex-m55"])
def test_budget_on_every_core_qemu_boots(core, mlperf_dir):
    from edgekit.log import Progress

    r = budget(mlperf_dir / "kws_ref_model.tflite", target=core, progress=Progress(quiet=True))
    d = r.data
    assert d["target"]["core"] == core and d["target"]["measured_on"] == d["target"]["qemu_machine"]
    assert d["instructions"] > 1_000_000
    assert sum(row["instructions"] for row in d["layers"]) <= d["instructions"]
    assert d["ram"]["arena_bytes"] <= d["ram"]["tflm_arena_bytes"]
    assert d["flash"]["total_bytes"] > d["flash"]["weights_bytes"] > 0
    assert d["totals"]["params"] == 22_606 and d["totals"]["macs"] == 2_656_768
    assert r.fits


@pytest.mark.qemu
@pytest.mark.parametrize("arch", ["tiny_transformer", "lmu", "lmuformer", "spiking_lmuformer"])
def test_budget_of_each_zoo_architecture(arch):
    from edgekit.log import Progress
    from edgekit.models.registry import build_model, count_macs, default_recipe

    r = budget(arch, target="cortex-m4", progress=Progress(quiet=True))
    d = r.data
    assert d["instructions"] > 0 and d["ram"]["arena_bytes"] > 0
    assert d["ram"]["lower_bound_bytes"] <= d["ram"]["arena_bytes"] <= d["ram"]["tflm_arena_bytes"]
    assert d["flash"]["weights_bytes"] > 0 and d["totals"]["params"] > 0
    # The int8 graph's MACs are within 2% of the Keras model's hand count
    # (the int8 graph may drop or fold small ops).
    # A zoo name is sized on the default build's input: the front end's frames.
    from edgekit.frontend.features import default_frontend_features

    shape = default_frontend_features("fsdd").shape
    assert shape == (48, 40)
    model = build_model(arch, shape, 10, **default_recipe(arch)["hparams"])
    assert d["totals"]["macs"] == pytest.approx(count_macs(model), rel=0.02)
