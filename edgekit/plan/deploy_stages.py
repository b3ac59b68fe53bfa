"""The stages that take an int8 model to a verified firmware and a report.

model (a given .tflite) or convert (an ONNX model) -> export (generated C,
with the audio front end and ``edgekit_push_audio`` when the features are
the front end's) -> verify-host (host build vs tflite_micro) -> firmware
(Cortex-M build, QEMU) -> audio (raw test audio through the firmware from
sound, host build and QEMU) -> stream (the streaming form, optional) -> report.  For
``edgekit train`` the plan ends with ``save`` instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from edgekit.errors import ConfigError, ModelError
from edgekit.plan.core import Artifacts, Stage

__all__ = ["model_stage", "convert_stage", "export_stage", "verify_host_stage", "firmware_stage",
           "audio_stage", "stream_stage", "report_stage", "save_stage", "audio_features"]

#: Progress lines :func:`edgekit.convert.convert_onnx` prints itself.
CONVERT_SUBSTAGES = 4


def _graph_counts(graph) -> tuple[int, int]:
    """Params (distinct constant int tensors' elements) and MACs of an int8 graph."""
    from edgekit.budget.layers import op_macs  # noqa: PLC0415

    seen, params = set(), 0
    for op in graph.operators:
        for t in op.inputs:
            if t >= 0 and t not in seen and graph.tensors[t].is_const and \
                    graph.tensors[t].dtype in ("int8", "int32", "int16"):
                seen.add(t)
                params += graph.tensors[t].num_elements
    return params, sum(op_macs(graph, op) for op in graph.operators)


# -- a given model ------------------------------------------------------------------------------

def _model_run(art: Artifacts) -> None:
    path = Path(art.spec.model)
    try:
        art.tflite = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror or e}") from None


def _convert_run(art: Artifacts) -> None:
    from edgekit.convert import convert_onnx  # noqa: PLC0415

    conv = convert_onnx(art.spec.model, art.spec.calib, out=art.work / "conversion",
                        progress=art.progress)
    art.tflite, art.real_inputs, art.report.conversion = conv.tflite, conv.inputs_int8, conv.report


model_stage = Stage("model", _model_run, lambda art: f"deploying {art.spec.model}")
convert_stage = Stage("model", _convert_run, lambda art: f"converting {art.spec.model} (ONNX)",
                      substages=CONVERT_SUBSTAGES)


# -- export -------------------------------------------------------------------------------------

def audio_features(art: Artifacts):
    """The front end the firmware gets, or None: ``--frontend`` with ``--model``, else the
    trained model's features when they are the front end's (``kind = "frontend"``)."""
    if art.spec.frontend is not None:
        from edgekit.firmware_export.audio import frontend_features  # noqa: PLC0415

        return frontend_features(art.spec.frontend, art.graph, art.spec.frames)
    fc = getattr(art.dataset, "feature_config", None)
    return fc if getattr(fc, "kind", None) == "frontend" else None


def _check_frame_quantization(art: Artifacts, graph, feats, what: str) -> None:
    """Warn when ``graph``'s data input is not quantized as the front end's frames."""
    from edgekit.firmware_export.codegen import data_io  # noqa: PLC0415

    x = graph.tensors[data_io(graph)[0]]
    scale, zp = (float(x.scale[0]), int(x.zero_point[0])) if len(x.scale) else (None, None)
    if scale is None or abs(scale - feats.input_scale) > 1e-5 * feats.input_scale \
            or zp != feats.input_zero_point:
        art.progress.warn(f"the {what}'s input quantization (scale {scale}, zero point {zp}) is "
                          f"not the front end's (scale {feats.input_scale:.6g}, zero point "
                          f"{feats.input_zero_point}): the frames are fed as they are")


def _ram_line(ram: dict) -> str:
    """``RAM total = arena + ...`` of an audio check's ``ram`` (window or streaming form)."""
    parts = [("arena", ram["arena_bytes"]), ("state", ram.get("model_state_bytes")),
             ("front end", ram["frontend_state_bytes"] + ram["frontend_scratch_bytes"]),
             ("window", ram.get("window_bytes")), ("frame/scores", ram.get("frame_buffer_bytes")),
             ("stack", ram["stack_bytes"])]
    return f"RAM {ram['total_bytes']:,} B = " + " + ".join(
        f"{name} {n:,}" for name, n in parts if n is not None)


def _export_audio(art: Artifacts, src: Path) -> None:
    from edgekit.firmware_export.audio import generate_audio  # noqa: PLC0415

    feats = audio_features(art)
    if feats is None:
        return
    aud = generate_audio(feats, art.graph, src, source=str(art.spec.model or "model.tflite"))
    _check_frame_quantization(art, art.graph, feats, "model")
    fe = feats.frontend
    art.progress.info(f"front end {fe.sample_rate} Hz, {fe.stride_ms:g} ms stride, "
                      f"{fe.num_channels} channels + edgekit_push_audio: model on the last "
                      f"{feats.num_frames} frames every {aud.run_every} frames "
                      f"({aud.run_every * fe.stride_ms:g} ms)")


def _export_run(art: Artifacts) -> None:
    from edgekit.firmware_export import generate, read_tflite, write_c_array  # noqa: PLC0415
    from edgekit.firmware_export.ops.lstm import variable_tensors  # noqa: PLC0415
    from edgekit.reference import tflm_arena  # noqa: PLC0415

    (art.work / "model.tflite").write_bytes(art.tflite)
    art.graph = graph = read_tflite(art.tflite)
    variables = variable_tensors(graph)
    if art.spec.stateful and not variables:
        raise ConfigError(f"--stateful keeps an LSTM's state between calls, but "
                          f"{art.spec.model} has no variable tensors (no LSTM)")
    art.export = exp = generate(graph, art.work / "firmware" / "src",
                                source=str(art.spec.model or "model.tflite"),
                                lstm_state=art.spec.lstm_state)
    if variables:
        art.progress.info("LSTM state " + ("kept between calls until edgekit_reset() (stateful)"
                                           if art.spec.stateful else "reset at every call"))
    _export_audio(art, art.work / "firmware" / "src")
    write_c_array(art.tflite, graph, art.work / "firmware" / "tflite_array")
    art.tflm_arena = tflm_arena(art.tflite)
    plan = exp.plan
    art.progress.info(f"{len(graph.operators)} ops, arena {plan.arena_bytes} B "
                      f"(lower bound {plan.lower_bound_bytes} B, "
                      f"{plan.lower_bound_no_inplace_bytes} B without in-place, "
                      f"TFLM host arena {art.tflm_arena['total_bytes']} B"
                      + (f"; ops reordered ({plan.order_strategy}), file order "
                         f"{plan.file_order_arena_bytes} B" if plan.order_strategy != "file"
                         else "") + ")")
    rep = art.report
    if art.spec.model is not None:
        params, macs = _graph_counts(graph)
        rep.model = {"source": str(art.spec.model), "params": params, "macs": macs}
    rep.model["ops"] = graph.op_counts()
    if variables:                 # an LSTM: its state reset at every call or kept
        rep.model["lstm_state"] = art.spec.lstm_state
    if graph.normalizations:
        rep.model["normalizations"] = list(graph.normalizations)
        for note in graph.normalizations:
            art.progress.info(f"normalized: {note}")
    (art.work / "memory_plan.json").write_text(json.dumps(plan.to_dict(), indent=1))


export_stage = Stage("export", _export_run,
                     lambda art: "generated C (no interpreter, static arena)")


# -- verification -------------------------------------------------------------------------------

def _verify_host_run(art: Artifacts) -> None:
    from edgekit.verify import check_host, check_inputs  # noqa: PLC0415

    art.inputs = check_inputs(art.graph, art.real_inputs, art.spec.cases, seed=0)
    fw = art.work / "firmware"
    art.host = check_host(art.tflite, fw / "src", fw / "host", art.inputs,
                          lstm_state=art.spec.lstm_state)


def _firmware_run(art: Artifacts) -> None:
    from edgekit.report import EmulatorInfo, MemoryInfo, TargetInfo  # noqa: PLC0415
    from edgekit.verify import check_qemu  # noqa: PLC0415
    from edgekit.verify.io import real_case_count  # noqa: PLC0415

    tgt, fw = art.target, art.work / "firmware"
    # Cases and time limit scaled to the model's MACs (a large model runs fewer cases).
    macs = _graph_counts(art.graph)[1]
    art.qemu = q = check_qemu(fw / "src", fw / tgt.name, tgt, art.inputs, art.host.reference,
                              macs=macs)
    ran = f"{q.cases} of {len(art.inputs)}" if q.cases < len(art.inputs) else f"{q.cases}"
    art.progress.info(f"QEMU: {'bit-exact' if q.bit_exact else f'{q.mismatched_cases} cases differ'}"
                      f" on {ran} inputs ({macs:,} MACs: time limit {q.timeout:.0f} s), "
                      f"{q.instructions:,} instructions per inference")
    plan, arena, build = art.export.plan, art.tflm_arena, q.firmware
    rep = art.report
    rep.target = TargetInfo(name=tgt.name, core=tgt.core, machine=tgt.qemu_machine,
                            cpu_flags=list(tgt.cpu_flags))
    rep.memory = MemoryInfo(
        flash_bytes=build.flash_bytes, ram_bytes=build.ram_bytes, text_bytes=build.text,
        data_bytes=build.data, bss_bytes=build.bss, weights_bytes=art.export.weight_bytes,
        state_bytes=art.export.state_bytes, arena_bytes=plan.arena_bytes,
        arena_lower_bound_bytes=plan.lower_bound_bytes,
        arena_lower_bound_no_inplace_bytes=plan.lower_bound_no_inplace_bytes,
        tflm_arena_host_bytes=arena["total_bytes"],
        tflm_tensor_arena_host_bytes=arena.get("head_bytes"),
        arena_vs_tflm=round(plan.arena_bytes / arena["total_bytes"], 4),
        arena_vs_lower_bound=round(plan.arena_bytes / max(plan.lower_bound_bytes, 1), 4),
        arena_op_order=plan.order_strategy, arena_file_order_bytes=plan.file_order_arena_bytes,
        stack_bytes=q.run.stack_bytes)
    n, real = len(art.inputs), art.real_inputs
    hooks = art.export.plan.hooks
    # layers run event-driven (their input is a spike tensor): the measured spike rate
    from edgekit.verify.spikes import spike_rates  # noqa: PLC0415
    rates = spike_rates(art.tflite, art.graph, art.inputs)
    rep.emulator = EmulatorInfo(
        bit_exact=bool(art.host.bit_exact and q.bit_exact), host_bit_exact=art.host.bit_exact,
        qemu_bit_exact=q.bit_exact, cases=n,
        real_cases=real_case_count(art.graph, real, art.spec.cases),
        mismatched_cases=q.mismatched_cases, reference="tflite_micro",
        max_diff_litert=art.host.max_diff_litert, instructions=q.instructions,
        instructions_min=q.instructions_min, instructions_max=q.instructions_max,
        clock=q.run.clock, per_op=[{"index": p["index"], "op": p["op"],
                                    "instructions": p["instructions"],
                                    # a hook measuring a fused op or a loop: its TFLite ops
                                    **({"covers": hooks[p["index"]]} if p["index"] in hooks
                                       else {}),
                                    **({"sparse": True,
                                        "spike_rate": rates[p["index"]]["spike_rate"]}
                                       if p["index"] in rates else {})}
                for p in q.run.per_op],
        cycles_estimate=_cycles_estimate(art, q.firmware.elf), qemu_cases=q.cases,
        qemu_timeout=round(q.timeout, 1))


def _cycles_estimate(art: Artifacts, elf) -> dict | None:
    """One more QEMU run of the first input, traced, through the Cortex-M4 timing model."""
    from dataclasses import asdict  # noqa: PLC0415

    from edgekit.emulator import run_qemu  # noqa: PLC0415
    from edgekit.emulator.cycles import MODELED_TARGET  # noqa: PLC0415

    if art.target.name != MODELED_TARGET:
        return None
    x = np.ascontiguousarray(np.asarray(art.inputs)[:1])
    est = run_qemu(elf, x.view(np.uint8).reshape(1, -1), target=art.target, cycles=True).cycles
    art.progress.info(f"estimated Cortex-M4 cycles per inference: {est.cycles[0]:,} "
                      f"({est.ratio:.2f} per instruction)")
    return {"cycles": int(est.cycles[0]), "instructions": int(est.instructions[0]),
            "cycles_per_instruction": round(est.ratio, 4), "model": asdict(est.model),
            "per_op": [{"index": p["index"], "op": p["op"], "cycles": int(p["cycles"])}
                       for p in est.per_op]}


verify_host_stage = Stage("verify-host", _verify_host_run,
                          lambda art: f"host build vs tflite_micro on {art.spec.cases} inputs")
firmware_stage = Stage("firmware", _firmware_run,
                       lambda art: f"{art.target.name}: arm-none-eabi-gcc, QEMU "
                                   f"{art.target.qemu_machine}")


# -- audio --------------------------------------------------------------------------------------

def _audio_clips(art: Artifacts, feats):
    """Test clips and labels: the dataset's test files (training build), else FSDD or synthetic;
    read once per build (``art.audio_clips``)."""
    if art.audio_clips is None:
        art.audio_clips = _read_audio_clips(art, feats)
    return art.audio_clips


def _read_audio_clips(art: Artifacts, feats):
    from edgekit.firmware_export.codegen import data_io  # noqa: PLC0415
    from edgekit.verify import audio_clips  # noqa: PLC0415

    ds = art.dataset
    files = list(getattr(ds, "files_test", None) or [])
    if ds is not None and files and len(files) == len(ds.y_test):
        from edgekit.data.resample import read_wav_at  # noqa: PLC0415

        return ([read_wav_at(p, feats.sample_rate) for p in files], ds.y_test,
                f"{len(files)} test clips")
    if ds is not None:
        art.progress.warn("the test split is not one file per example: raw-audio check on FSDD")
    y = art.graph.tensors[data_io(art.graph)[1]]
    return audio_clips(feats, art.spec.data, num_classes=y.num_elements)


def _audio_run(art: Artifacts) -> None:
    from edgekit.verify import check_audio  # noqa: PLC0415

    feats = audio_features(art)
    clips, labels, source = _audio_clips(art, feats)
    fw = art.work / "firmware"
    chk = check_audio(art.tflite, feats, fw / "src", fw, clips, labels, target=art.target,
                      qemu_clips=art.spec.audio_clips, graph=art.graph)
    art.report.audio = d = chk.to_dict(art.export.plan.arena_bytes, art.export.state_bytes)
    d["clips_source"] = source
    acc = art.report.accuracy or {}
    if "int8" in acc and d.get("host_clips") == acc.get("test_cases"):
        # the quantize stage's int8 accuracy on the very same test clips (tflite_micro)
        d["build_int8_accuracy"] = acc["int8"]
        if d.get("host_int8_accuracy_same_clips") != acc["int8"]:
            art.progress.warn(f"host int8 accuracy from the front end's frames "
                              f"{d.get('host_int8_accuracy_same_clips')} differs from the "
                              f"quantize stage's {acc['int8']}")
    if d["device"] == "qemu":
        d["files"] = {"audio_firmware": f"firmware/{art.target.name}-audio/model.elf"}
    art.progress.info(chk.summary())
    if "frontend_instructions_per_stride" in d:
        art.progress.info(f"front end {d['frontend_instructions_per_stride']:,} instructions per "
                          f"stride, model {d['model_instructions_per_run']:,} per run; "
                          + _ram_line(d["ram"]))
    if not chk.bit_exact:
        art.progress.warn(f"firmware from sound differs: frames {d['frames_bit_exact']}, scores "
                          f"{d['scores_bit_exact']}")


audio_stage = Stage("audio", _audio_run,
                    lambda art: f"raw test audio -> edgekit_push_audio: all clips on the host "
                                f"build, {art.spec.audio_clips} in QEMU {art.target.qemu_machine}")


# -- streaming ----------------------------------------------------------------------------------

def _stream_audio(art: Artifacts, feats) -> dict:
    """The streaming model from sound: ``edgekit_push_audio`` feeding it frame by frame, checked."""
    from edgekit.firmware_export import read_tflite  # noqa: PLC0415
    from edgekit.firmware_export.audio import generate_audio  # noqa: PLC0415
    from edgekit.verify import check_audio  # noqa: PLC0415

    out, rep = art.work / "stream", art.report.streaming
    tflite = (out / "stream.tflite").read_bytes()
    graph = read_tflite(tflite)
    src = out / "firmware" / "src"
    aud = generate_audio(feats, graph, src, source="stream.tflite")
    _check_frame_quantization(art, graph, feats, "streaming model")
    clips, labels, source = _audio_clips(art, feats)
    chk = check_audio(tflite, feats, src, out / "firmware", clips, labels, target=art.target,
                      qemu_clips=art.spec.audio_clips, graph=graph)
    d = chk.to_dict(rep["arena_bytes"], rep["state_bytes"])
    d["clips_source"] = source
    if d["device"] == "qemu":
        d["files"] = {"stream_audio_firmware": f"stream/firmware/{art.target.name}-audio/model.elf"}
    art.progress.info("streaming " + chk.summary())
    if "ram" in d:
        art.progress.info(
            f"streaming from sound: model every {aud.hop} frame(s), scores every {aud.run_every}; "
            f"front end {d['frontend_instructions_per_stride']:,} instructions per stride; "
            + _ram_line(d["ram"]))
    if not chk.bit_exact:
        art.progress.warn(f"streaming firmware from sound differs: frames "
                          f"{d['frames_bit_exact']}, scores {d['scores_bit_exact']}")
    return d


def _stream_run(art: Artifacts) -> None:
    from edgekit.stream_build import build_streaming  # noqa: PLC0415

    ds = art.dataset
    art.report.streaming = build_streaming(art.model, ds.x_train, ds.x_test, ds.y_test,
                                           art.tflite, art.work / "stream", art.target,
                                           art.progress, form=art.spec.stream_form)
    feats = audio_features(art)
    if feats is not None and art.spec.audio:
        art.report.streaming["audio"] = _stream_audio(art, feats)


stream_stage = Stage("stream", _stream_run,
                     lambda art: f"per-frame streaming form ({art.spec.stream_form}): int8, "
                                 f"generated C, {art.target.name} in QEMU"
                                 + (", fed raw test audio" if art.spec.audio else ""))


# -- report -------------------------------------------------------------------------------------

def _tensor_info(graph, t: int):
    from edgekit.report import TensorInfo  # noqa: PLC0415

    ten = graph.tensors[t]
    quantized = len(ten.scale) > 0
    return TensorInfo(name=ten.name, shape=[int(d) for d in ten.shape], dtype=ten.dtype,
                      scale=float(ten.scale[0]) if quantized else None,
                      zero_point=int(ten.zero_point[0]) if quantized else None, bytes=ten.nbytes)


def metadata(art: Artifacts):
    """The build's :class:`edgekit.report.Metadata` (``metadata.json``)."""
    from edgekit.firmware_export.codegen import data_tensors  # noqa: PLC0415
    from edgekit.report import Metadata  # noqa: PLC0415

    graph, rep = art.graph, art.report
    din, dout = data_tensors(graph)
    model = {k: rep.model[k] for k in ("source", "arch", "hparams", "params", "macs",
                                       "lstm_state") if k in rep.model}
    if art.spec.recipe is not None:
        model["recipe"] = art.spec.recipe.get("name") or art.spec.recipe["_path"]
    model["tflite_bytes"] = len(art.tflite)
    model["tflite_sha256"] = hashlib.sha256(art.tflite).hexdigest()
    mem = rep.memory
    files = {"tflite": "model.tflite", "c_sources": "firmware/src",
             "firmware": f"firmware/{art.target.name}/model.elf", "report": "report.json",
             "memory_plan": "memory_plan.json"}
    if art.spec.recipe is not None:
        files["keras"] = "model.keras"
    if rep.streaming:
        files["streaming"] = "stream"
        files.update(rep.streaming.get("audio", {}).get("files", {}))
    frontend = None
    if rep.audio:
        frontend = {**rep.audio["features"], "run_every_frames": rep.audio["run_every_frames"],
                    "api": "edgekit_push_audio (firmware/src/edgekit_audio.h)"}
        files.update(rep.audio.get("files", {}))
    return Metadata(
        edgekit=rep.edgekit, target=rep.target, model=model,
        inputs=[_tensor_info(graph, t) for t in din],
        outputs=[_tensor_info(graph, t) for t in dout],
        memory={"flash_bytes": mem.flash_bytes, "ram_bytes": mem.ram_bytes,
                "arena_bytes": mem.arena_bytes, "state_bytes": mem.state_bytes,
                "weights_bytes": mem.weights_bytes, "stack_bytes": mem.stack_bytes},
        op_order=list(art.export.plan.order) or list(range(len(graph.operators))),
        ops=[{"index": i, "op": op.opcode} for i, op in enumerate(graph.operators)],
        features=rep.features, frontend=frontend, files=files)


def _report_run(art: Artifacts) -> None:
    from edgekit.report import write_report  # noqa: PLC0415

    write_report(art.report, art.work, metadata(art))


report_stage = Stage("report", _report_run,
                     lambda art: f"{art.spec.out}/report.json, report.md, metadata.json")


def _save_run(art: Artifacts) -> None:
    (art.work / "model.tflite").write_bytes(art.tflite)
    art.report.model["tflite_bytes"] = len(art.tflite)
    parts = art.report.to_dict()
    parts.pop("edgekit", None)
    (art.work / "train_report.json").write_text(json.dumps(parts, indent=2) + "\n")


save_stage = Stage("save", _save_run,
                   lambda art: f"{art.spec.out}/model.tflite, model.keras, train_report.json")
