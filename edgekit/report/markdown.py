"""``report.md``: the build report as Markdown, rendered from the report's dictionary form."""

from __future__ import annotations

__all__ = ["render_markdown"]


def _fmt(n) -> str:
    if n is None:
        return "n/a"
    if isinstance(n, float):
        return f"{n:.4f}"
    if isinstance(n, int):
        return f"{n:,}"
    return str(n)


def _compression_sections(report: dict) -> list[str]:
    """``steps`` (before/after table) and ``quantization`` (per-layer SQNR) of a recipe build."""
    lines: list[str] = []
    steps = report.get("steps")
    if steps:
        lines += ["", "## Compression steps", "",
                  "| step | params | MACs | int8 weight flash (B) | float acc | int8 acc |",
                  "|---|---|---|---|---|---|"]
        for st in steps:
            lines.append(f"| {st.get('step')} | {_fmt(st.get('params'))} | {_fmt(st.get('macs'))} "
                         f"| {_fmt(st.get('weight_flash_bytes'))} | "
                         f"{_fmt(st.get('float_accuracy'))} | {_fmt(st.get('int8_accuracy'))} |")
        comp = report.get("compression")
        if comp:
            lines += ["", "Deployed vs trained: weight flash x"
                      f"{comp.get('weight_flash_ratio')}, params x{comp.get('params_ratio')}, "
                      f"MACs x{comp.get('macs_ratio')}, int8 accuracy "
                      f"{-comp.get('int8_accuracy_drop_points', 0):+.2f} points."]
        for st in steps:
            d = st.get("distillation")
            if d and "baseline_accuracy" in d:
                lines += ["", f"Distillation (T={d.get('temperature')}, alpha={d.get('alpha')}, "
                          f"{d.get('epochs')} epochs, seed {d.get('seed')}): float accuracy "
                          f"{_fmt(d.get('distilled_accuracy'))} with vs "
                          f"{_fmt(d.get('baseline_accuracy'))} without distillation (int8 "
                          f"{_fmt(d.get('distilled_int8_accuracy'))} vs "
                          f"{_fmt(d.get('baseline_int8_accuracy'))}): "
                          f"**{d.get('verdict')}** ({d.get('only_distilled_right')} test "
                          f"examples right only with, {d.get('only_baseline_right')} only "
                          f"without; McNemar p = {d.get('p_value')})."]
            if st.get("note"):
                lines += ["", f"{st['step']}: {st['note']}.", "", "| tensor | op | nonzero / elements |",
                          "|---|---|---|"]
                for t in st.get("nonzero_per_tensor", []):
                    lines.append(f"| {t['tensor'][:60]} | {t['op']} | "
                                 f"{_fmt(t['nonzero'])} / {_fmt(t['elements'])} |")
    q = report.get("quantization")
    if q and q.get("layers"):
        cal = q.get("calibration", {})
        lines += ["", "## Quantization", "",
                  f"- mode {q.get('mode')}: weights {q.get('weights')}, activations "
                  f"{q.get('activations')}; calibration {cal.get('samples')} "
                  f"{cal.get('sampling')} examples",
                  f"- float {_fmt(q.get('float_accuracy'))} vs int8 "
                  f"{_fmt(q.get('int8_accuracy'))} test accuracy",
                  f"- worst layers: {', '.join(q.get('worst', []))}"]
        for w in q.get("warnings", []):
            lines.append(f"- **warning**: {w}")
        lines += ["", f"Per-layer SQNR vs the float model ({q.get('samples')} calibration "
                  f"examples; threshold {q.get('threshold_db')} dB; drop = lowest input SQNR "
                  "minus output SQNR, the error the layer itself adds):", "",
                  "| # | op | layers | SQNR (dB) | drop (dB) | |", "|---|---|---|---|---|---|"]
        for row in q["layers"]:
            names = "/".join(row.get("layers") or []) or row.get("tensor", "")[:60]
            lines.append(f"| {row['index']} | {row['op']} | {names} | {row['sqnr_db']:.1f} | "
                         f"{row.get('drop_db', 0):.1f} | {'LOW' if row.get('warn') else ''} |")
    return lines


def _streaming_section(st: dict | None) -> list[str]:
    if not st:
        return []
    return ["", "## Streaming form (`stream/`: one call per hop, state in static buffers)", "",
            "| | |", "|---|---|",
            f"| form | {st.get('form', 'window')} |",
            f"| feature frames per call (hop) | {st['hop_frames']} "
            "(`edgekit_push_frame()` takes one frame at a time) |",
            f"| calls per clip | {st['steps']} |",
            f"| guest instructions per call | {_fmt(st['instructions_per_hop'])} |",
            f"| state / arena / flash bytes | {_fmt(st['state_bytes'])} / "
            f"{_fmt(st['arena_bytes'])} / {_fmt(st['flash_bytes'])} |",
            f"| bit-exact with tflite_micro | **{st['bit_exact']}** (host {st['host_calls']} "
            f"calls, QEMU {st['qemu_calls']}) |",
            f"| final decision = int8 window model's | {st['decisions_equal_window']:.4f} of "
            f"{st['test_clips']} test clips (max score difference {st['max_abs_diff_vs_window']}"
            " LSB) |",
            f"| int8 accuracy, streaming / window | {st['accuracy_int8']:.4f} / "
            f"{st['window_accuracy_int8']:.4f} |"] + _audio_section(
                st.get("audio"), "Streaming form from sound (`stream/`: `edgekit_push_audio` "
                                 "feeds each new frame to the step model)")


def _audio_section(a: dict | None,
                   title: str = "Audio in, decision out (`edgekit_push_audio`)") -> list[str]:
    """``audio`` (or ``streaming.audio``): sound in, decision out (the firmware
    from sound in QEMU and on the host)."""
    if not a:
        return []
    fe = a["features"]["frontend"]
    lines = ["", f"## {title}", "", "| | |", "|---|---|"]
    if a.get("accuracy_raw_audio_device") is not None:
        where = "QEMU" if a.get("device") == "qemu" else "host build"
        n = a.get(f"{a.get('device')}_clips")
        lines.append(f"| **accuracy from raw audio on the device** | "
                     f"**{_fmt(a['accuracy_raw_audio_device'])}** ({where}, {n} clips; host int8 "
                     f"{_fmt(a.get(a.get('device', 'qemu') + '_int8_accuracy_same_clips'))} "
                     "on the same clips) |")
    if a.get("host_clips"):
        lines.append(f"| host build, all {a['host_clips']} clips | accuracy "
                     f"{_fmt(a.get('host_accuracy_raw_audio'))} (host int8 "
                     f"{_fmt(a.get('host_int8_accuracy_same_clips'))}); decisions equal: "
                     f"{a.get('host_decisions_equal_int8')} |")
    lines += [f"| front end | {fe['sample_rate']} Hz, window {fe['window_size']} / stride "
              f"{fe['stride']} samples, FFT {fe['fft_size']}, {fe['num_channels']} channels |",
              (f"| model input | one frame at a time, a step every {a.get('hop_frames')} "
               f"frames, decision at frame {a.get('decision_frame')}; scores every "
               f"{a['run_every_frames']} frames ({a['run_every_ms']:g} ms); "
               f"{a['chunk_samples']}-sample pushes |" if a.get("streaming") else
               f"| model input | last {a['num_frames']} frames; a run every "
               f"{a['run_every_frames']} frames ({a['run_every_ms']:g} ms); "
               f"{a['chunk_samples']}-sample pushes |"),
              f"| frames bit-exact, host front end vs device | host build "
              f"{a['frames_bit_exact'].get('host')}, QEMU {a['frames_bit_exact'].get('qemu')} |",
              f"| scores bit-exact with tflite_micro on those frames | host build "
              f"{a['scores_bit_exact'].get('host')}, QEMU {a['scores_bit_exact'].get('qemu')} |",
              f"| clips | {a.get('clips_source', 'n/a')} |"]
    if "ram" in a:
        ram = a["ram"]
        lines += [f"| front-end instructions per stride | "
                  f"{_fmt(a['frontend_instructions_per_stride'])} |",
                  f"| model instructions per run | {_fmt(a['model_instructions_per_run'])} |",
                  f"| RAM total | {_fmt(ram['total_bytes'])} B = arena {_fmt(ram['arena_bytes'])}"
                  f" + front-end state {_fmt(ram['frontend_state_bytes'])} + scratch "
                  f"{_fmt(ram['frontend_scratch_bytes'])} + "
                  + (f"frame buffer {_fmt(ram.get('frame_buffer_bytes'))}" if a.get("streaming")
                     else f"window {_fmt(ram.get('window_bytes'))}") +
                  f" + stack {_fmt(ram['stack_bytes'])}"
                  + (f" + model state {_fmt(ram['model_state_bytes'])}"
                     if ram.get("model_state_bytes") else "") + " |",
                  f"| flash (audio firmware, harness included) | {_fmt(a['flash_bytes'])} B |"]
    return lines


def _features_line(features: dict | None) -> list[str]:
    """Which features the model takes, and whether a device can compute them."""
    if not features:
        return []
    if features.get("kind") == "frontend":
        fe = features["frontend"]
        return ["", f"Features: the fixed-point audio front end ({fe['sample_rate']} Hz, "
                f"{features['num_frames']} frames x {fe['num_channels']} channels), the same C on "
                "the host and the device."]
    return ["", "Features: float log-mel (`logmel-float`), **host only**: no device code "
            "computes them; the firmware takes feature tensors."]


def render_markdown(report: dict) -> str:
    m, mem, emu, tgt = (report.get(k, {}) for k in ("model", "memory", "emulator", "target"))
    acc = report.get("accuracy")
    lines = [f"# edgekit build report ({tgt.get('name', '?')}, QEMU {tgt.get('machine', '?')})", ""]
    lines += ["## Model", "", "| | |", "|---|---|"]
    for key in ("arch", "source", "params", "macs"):
        if key in m:
            lines.append(f"| {key} | {_fmt(m[key])} |")
    if "ops" in m:
        lines.append("| ops | " + ", ".join(f"{k} x{v}" for k, v in m["ops"].items()) + " |")
    if acc:
        lines += ["", "## Accuracy (FSDD official test split)", "", "| float | int8 (tflite_micro) |",
                  "|---|---|", f"| {_fmt(acc.get('float'))} | {_fmt(acc.get('int8'))} |"]
    lines += _features_line(report.get("features"))
    spikes = report.get("spikes")
    if spikes:
        lines += ["", "## Spike rates (fraction of non-zero activations, test split)", "",
                  "| layer | rate |", "|---|---|"]
        for name, v in spikes.items():
            lines.append(f"| {'all' if name == '__all__' else name} | {v['rate']:.3f} |")
    lines += _audio_section(report.get("audio"))
    lines += _compression_sections(report)
    lines += _streaming_section(report.get("streaming"))
    lines += ["", "## Memory", "", "| what | bytes |", "|---|---|"]
    for key in ("flash_bytes", "weights_bytes", "ram_bytes", "arena_bytes",
                "arena_lower_bound_bytes", "arena_lower_bound_no_inplace_bytes",
                "arena_file_order_bytes", "tflm_arena_host_bytes",
                "stack_bytes"):
        if key in mem:
            lines.append(f"| {key} | {_fmt(mem[key])} |")
    if "arena_op_order" in mem:
        lines.append(f"| arena_op_order | {mem['arena_op_order']} |")
    for key in ("arena_vs_tflm", "arena_vs_lower_bound"):
        if key in mem:
            lines.append(f"| {key} (ratio) | {mem[key]} |")
    lines += ["", "## Emulator check", "",
              f"- bit-exact with tflite_micro: **{emu.get('bit_exact')}** "
              f"(host {emu.get('host_bit_exact')}, QEMU {emu.get('qemu_bit_exact')}) "
              f"on {emu.get('cases')} inputs"
              + (f" ({emu['qemu_cases']} of them in QEMU, time limit {emu.get('qemu_timeout')} s)"
                 if emu.get("qemu_cases") is not None and emu["qemu_cases"] != emu.get("cases")
                 else ""),
              f"- max difference to LiteRT (not gated): {emu.get('max_diff_litert')} LSB",
              f"- guest instructions per inference: {_fmt(emu.get('instructions'))} "
              f"(counted with {emu.get('clock')}, 40 instructions per tick)"]
    cyc = emu.get("cycles_estimate") or {}
    op_cycles = {p["index"]: p["cycles"] for p in cyc.get("per_op", [])}
    if cyc:
        lines.append(f"- estimated Cortex-M4 cycles per inference: {_fmt(cyc['cycles'])} "
                     f"({cyc['cycles_per_instruction']} per instruction; timing model of "
                     "edgekit.emulator.cycles, no flash wait states)")
    lines += ["", "| # | op | instructions | est. cycles |", "|---|---|---|---|"]
    for p in emu.get("per_op", []):
        op = (f"{p['op']} (event-driven, spike rate {p['spike_rate']:.3f})" if p.get("sparse")
              else p["op"])
        lines.append(f"| {p['index']} | {op} | {_fmt(p['instructions'])} | "
                     f"{_fmt(op_cycles.get(p['index'], '-'))} |")
    return "\n".join(lines) + "\n"
