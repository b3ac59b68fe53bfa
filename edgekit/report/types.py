"""Typed report objects: what a build reports, and the versioned ``metadata.json``.

The build plan's stages fill a :class:`BuildReport`; ``report.json`` is its
:meth:`BuildReport.to_dict` and ``report.md`` is rendered from that
(:func:`edgekit.report.markdown.render_markdown`).  :class:`Metadata` is the
self-describing artifact a downstream tool reads (``build/metadata.json``):
its ``schema_version`` changes whenever a field changes meaning or goes away.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["BuildReport", "EmulatorInfo", "MemoryInfo", "Metadata", "TargetInfo", "TensorInfo",
           "METADATA_SCHEMA_VERSION"]

#: Version of the ``metadata.json`` layout (see :class:`Metadata`).
METADATA_SCHEMA_VERSION = 1


def _plain(value):
    """Dataclasses to dicts (``None`` fields left out), recursively."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not None}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class TargetInfo:
    """The Cortex-M target: name, core, QEMU machine and compiler CPU flags."""

    name: str
    core: str
    machine: str
    cpu_flags: list[str]


@dataclass
class MemoryInfo:
    """Bytes: firmware flash/RAM from the ELF, the planned arena and TFLM's arena."""

    flash_bytes: int
    ram_bytes: int
    text_bytes: int
    data_bytes: int
    bss_bytes: int
    weights_bytes: int
    state_bytes: int
    arena_bytes: int
    arena_lower_bound_bytes: int
    #: The lower bound of the same op order with no op in place (every input
    #: and output of a step alive, no scratch).
    arena_lower_bound_no_inplace_bytes: int
    tflm_arena_host_bytes: int
    tflm_tensor_arena_host_bytes: int | None
    arena_vs_tflm: float
    arena_vs_lower_bound: float
    #: The op order of the generated code (:mod:`edgekit.firmware_export.schedule`).
    arena_op_order: str
    #: The arena the file order would need.
    arena_file_order_bytes: int
    stack_bytes: int


@dataclass
class EmulatorInfo:
    """The bit-exactness check against tflite_micro, and guest instructions from QEMU."""

    bit_exact: bool
    host_bit_exact: bool
    qemu_bit_exact: bool
    cases: int
    real_cases: int
    mismatched_cases: int
    reference: str
    max_diff_litert: int | None
    instructions: int
    instructions_min: int
    instructions_max: int
    clock: str
    #: ``{"index", "op", "instructions"}`` per TFLite op, plus ``"covers"``
    #: (the TFLite ops measured) for a hook measuring a fused op or a loop
    #: of calls; the other ops it covers report 0.  A layer run event-driven
    #: (its input is a spike tensor, ``firmware_export/passes/spike_sparse.py``)
    #: has ``"sparse": True`` and ``"spike_rate"``: the fraction of its input
    #: at the spike code over the checked inputs (host run).
    per_op: list[dict]
    #: Estimated Cortex-M4 cycles (:mod:`edgekit.emulator.cycles`) of one
    #: inference: ``{"cycles", "instructions", "cycles_per_instruction",
    #: "model", "per_op"}``; None on other cores (the table is the M4's).
    cycles_estimate: dict | None = None
    #: Cases run in QEMU: the first ``qemu_cases`` of the ``cases`` (all run
    #: on the host); fewer for a large model (edgekit.verify.qemu_plan).
    qemu_cases: int | None = None
    #: QEMU's time limit (seconds), scaled to the model's MACs.
    qemu_timeout: float | None = None


@dataclass
class BuildReport:
    """Everything ``report.json`` holds; each stage of the plan fills its part.

    Sections other than target, memory and emulator are dictionaries written
    by the stage that owns them (their keys are documented in the README).
    """

    edgekit: str
    recipe: dict | None = None
    model: dict | None = None
    accuracy: dict | None = None
    training: dict | None = None
    dataset: dict | None = None
    features: dict | None = None
    sizing: dict | None = None
    spikes: dict | None = None
    steps: list | None = None
    compression: dict | None = None
    quantization: dict | None = None
    conversion: dict | None = None
    streaming: dict | None = None
    #: Sound in, decision out (:meth:`edgekit.verify.AudioCheck.to_dict`).
    audio: dict | None = None
    target: TargetInfo | None = None
    memory: MemoryInfo | None = None
    emulator: EmulatorInfo | None = None

    def to_dict(self) -> dict:
        """The report as plain JSON-able data (``None`` sections left out)."""
        return _plain(self)


@dataclass
class TensorInfo:
    """A model input or output as the device sees it."""

    name: str
    shape: list[int]
    dtype: str
    scale: float | None
    zero_point: int | None
    bytes: int


@dataclass
class Metadata:
    """``metadata.json``: a versioned, self-describing summary of a build.

    Attributes
    ----------
    schema_version : int
        :data:`METADATA_SCHEMA_VERSION`.
    edgekit : str
        The edgekit version that wrote it.
    target : TargetInfo
    model : dict
        ``source`` (a file, or the recipe that trained it), ``arch`` when
        trained, ``params``, ``macs``, ``tflite_bytes``, ``tflite_sha256``;
        for a model with an LSTM, ``lstm_state``: ``"reset"`` (every
        ``edgekit_invoke`` starts from zero) or ``"keep"`` (the state is
        kept between calls until ``edgekit_reset()``: ``--stateful``).
    inputs, outputs : list of TensorInfo
        The data inputs and outputs in the generated API's order, with their
        int8 quantization (``real = scale * (q - zero_point)``).
    memory : dict
        ``flash_bytes``, ``ram_bytes``, ``arena_bytes``, ``state_bytes``,
        ``weights_bytes``, ``stack_bytes``.
    op_order : list of int
        TFLite op indices in the order the generated code runs them.
    ops : list of dict
        ``{"index", "op"}`` per TFLite op.
    features : dict or None
        The feature configuration the model was trained on (None for a
        given model).
    frontend : dict or None
        The audio front end built into the firmware (``edgekit_push_audio``):
        the front-end features (``features.json``'s content: ``num_frames``,
        the input quantization and the ``frontend`` config) plus
        ``run_every_frames`` and ``api``; None without one.
    files : dict
        Where the build put its parts (relative paths).
    """

    edgekit: str
    target: TargetInfo
    model: dict
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    memory: dict
    op_order: list[int]
    ops: list[dict]
    features: dict | None = None
    frontend: dict | None = None
    files: dict = field(default_factory=dict)
    schema_version: int = METADATA_SCHEMA_VERSION

    def to_dict(self) -> dict:
        """Plain JSON-able data; ``features`` and ``frontend`` are kept even when ``None``."""
        d = {"schema_version": self.schema_version, **_plain(self)}
        d["features"], d["frontend"] = self.features, self.frontend
        return d
