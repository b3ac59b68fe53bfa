"""Firmware from sound: the front end's C and ``edgekit_audio.c/.h`` beside a model's C.

:func:`generate_audio` writes, next to the generated model
(:func:`edgekit.firmware_export.generate`), the audio front end
(:func:`edgekit.frontend.generate_c`) and, from the templates
``templates/audio/edgekit_audio.[ch].j2``, the glue that takes a device
from sound to scores::

    int  edgekit_push_audio(const int16_t *pcm, size_t n, int8_t *scores);
    void edgekit_audio_reset(void);

It runs the front end on each stride and then, for a window model, keeps
the last ``num_frames`` frames in a static window (apart from the arena,
which every inference overwrites) and runs the model first once
``num_frames`` frames exist since the reset, then every ``run_every`` new
frames.  For a streaming step model (``edgekit build --streaming``: state
tensors carried between calls, input ``[1, hop, C]``, see
:mod:`edgekit.models.streaming`) it hands every new frame to the model's
``edgekit_push_frame``, which runs the model once per ``hop`` frames, and
writes the scores every ``run_every`` frames (a multiple of ``hop``; by
default ``hop``: every model run).  No window of frames is kept.

:func:`window_shape` checks that a model's input is a window of the front
end's frames (``[1, N, C]`` or ``[1, N, C, 1]`` int8 with ``C`` channels),
:func:`step_shape` that a streaming model's is a hop of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgekit import __version__
from edgekit.errors import ConfigError, ModelError
from edgekit.firmware_export.codegen import data_io, frames_per_call
from edgekit.firmware_export.graph import Graph
from edgekit.firmware_export.templating import render

__all__ = ["AUDIO_FILES", "DEFAULT_RUN_EVERY_MS", "FRONTEND_PRESETS", "AudioExport",
           "audio_context", "decision_frame", "default_run_every", "frontend_features",
           "generate_audio", "is_streaming", "step_shape", "window_shape"]

#: ``--frontend`` names: the :class:`edgekit.frontend.FrontendConfig` presets.
FRONTEND_PRESETS = ("tflm-micro", "fsdd")

#: Files :func:`generate_audio` writes besides the front end's.
AUDIO_FILES = ("edgekit_audio.h", "edgekit_audio.c")
#: Default time between two model runs: a decision every 200 ms, the
#: granularity at which a spoken word's position varies little while the
#: model's cost stays a fraction of the front end's budget (10 strides of 20 ms).
DEFAULT_RUN_EVERY_MS = 200.0


@dataclass(frozen=True)
class AudioExport:
    """What :func:`generate_audio` wrote.

    Attributes
    ----------
    files : list of pathlib.Path
        The front end's four files and ``edgekit_audio.h/.c``.
    num_frames, num_channels : int
        The window of frames (the model's input; for a streaming model, the
        frames of one training clip).
    run_every : int
        New frames between two model runs (streaming: between two score
        writes; the model runs every ``hop`` frames).
    window_bytes : int
        Bytes of ``edgekit_audio.c``'s static buffers: the window of frames,
        or (streaming) the newest frame and the scores.
    streaming : bool
        The model is a streaming step model.
    hop : int
        Frames per model call (1 for a window model: it takes them all at once).
    """

    files: list
    num_frames: int
    num_channels: int
    run_every: int
    window_bytes: int
    streaming: bool = False
    hop: int = 1


def default_run_every(stride_ms: float) -> int:
    """Frames between model runs for :data:`DEFAULT_RUN_EVERY_MS` (at least 1)."""
    return max(1, int(round(DEFAULT_RUN_EVERY_MS / float(stride_ms))))


def window_shape(graph: Graph, num_channels: int, num_frames: int | None = None) -> int:
    """Frames in the model's input window, checked against the front end.

    Parameters
    ----------
    graph : Graph
        The int8 model.
    num_channels : int
        The front end's channels per frame.
    num_frames : int, optional
        Frames the caller expects (``--frames``); checked when given.

    Returns
    -------
    int
        ``N`` of the model's ``[1, N, C]`` or ``[1, N, C, 1]`` input.

    Raises
    ------
    edgekit.errors.ModelError
        If the input is not int8 or not a window of ``num_channels``-wide frames
        (the message names both shapes).
    """
    xi, _ = data_io(graph)
    x = graph.tensors[xi]
    shape = [int(d) for d in x.shape]
    ok = (x.dtype == "int8" and len(shape) in (3, 4) and shape[0] == 1 and shape[1] >= 1
          and shape[2] == num_channels and (len(shape) == 3 or shape[3] == 1))
    want = f"[1, {num_frames if num_frames else 'N'}, {num_channels}] or [1, " \
           f"{num_frames if num_frames else 'N'}, {num_channels}, 1] int8"
    if not ok:
        raise ModelError(f"the model's input is {shape} {x.dtype}; the front end's frames "
                         f"need {want} ({num_channels} channels per frame)")
    if num_frames is not None and shape[1] != num_frames:
        raise ModelError(f"the model's input is {shape} {x.dtype}: {shape[1]} frames, but "
                         f"{num_frames} were asked for ({want})")
    return shape[1]


def is_streaming(graph: Graph) -> bool:
    """Whether ``graph`` is a streaming step model (``state_i`` signature pairs)."""
    return bool(graph.state_pairs())


def step_shape(graph: Graph, num_channels: int) -> int:
    """Frames per call (the hop) of a streaming model, checked against the front end.

    Parameters
    ----------
    graph : Graph
        The int8 streaming model (:func:`is_streaming`).
    num_channels : int
        The front end's channels per frame.

    Returns
    -------
    int
        ``hop`` of the model's ``[1, hop, C]`` data input.

    Raises
    ------
    edgekit.errors.ModelError
        If the data input is not int8 ``[1, hop, num_channels]``.
    """
    xi, _ = data_io(graph)
    x = graph.tensors[xi]
    shape = [int(d) for d in x.shape]
    if not (x.dtype == "int8" and len(shape) == 3 and shape[0] == 1 and shape[1] >= 1
            and shape[2] == num_channels):
        raise ModelError(f"the streaming model's frame input is {shape} {x.dtype}; the front "
                         f"end's frames need [1, hop, {num_channels}] int8 ({num_channels} "
                         "channels per frame)")
    return frames_per_call(graph)


def decision_frame(num_frames: int, hop: int = 1) -> int:
    """Frames since the reset at the run that decides a clip of ``num_frames`` frames.

    A window model's first run (``num_frames``); a streaming model's run
    after the last whole hop of the clip (``num_frames // hop * hop``), the
    step at which its scores are the decision on that clip.
    """
    return (int(num_frames) // int(hop)) * int(hop)


def audio_context(features, graph: Graph, run_every: int, source: str = "model.tflite") -> dict:
    """The values ``edgekit_audio.[ch].j2`` render (numbers and strings only)."""
    fe = features.frontend
    xi, yi = data_io(graph)
    x, y = graph.tensors[xi], graph.tensors[yi]
    span = features.clip_samples
    streaming = is_streaming(graph)
    hop = frames_per_call(graph) if streaming else 1
    decide = decision_frame(features.num_frames, hop)
    return dict(
        version=__version__, source=Path(str(source)).name, frontend_hash=fe.hash(),
        sample_rate=fe.sample_rate, stride=fe.stride, window_size=fe.window_size,
        channels=fe.num_channels, num_frames=features.num_frames, run_every=run_every,
        stride_ms=f"{fe.stride_ms:g}", window_ms=f"{fe.window_ms:g}",
        span_samples=span, span_ms=f"{1000.0 * span / fe.sample_rate:g}",
        run_ms=f"{run_every * fe.stride_ms:g}",
        streaming=streaming, hop=hop, hop_ms=f"{hop * fe.stride_ms:g}",
        decision_frame=decide,
        decision_samples=fe.window_size + (decide - 1) * fe.stride,
        state_bytes=sum(graph.tensors[a].nbytes for a, _ in graph.state_pairs()),
        output_bytes=y.nbytes, output_scale=f"{float(y.scale[0]):g}" if len(y.scale) else "1",
        output_zp=int(y.zero_point[0]) if len(y.zero_point) else 0,
        input_zp=int(x.zero_point[0]) if len(x.zero_point) else 0)


def generate_audio(features, graph: Graph, out_dir, *, run_every: int | None = None,
                   source: str = "model.tflite") -> AudioExport:
    """Write the front end's C and ``edgekit_audio.c/.h`` into ``out_dir`` (beside ``model.c``).

    Parameters
    ----------
    features : edgekit.frontend.features.FrontendFeatures
        The front end and the frames per model input.
    graph : Graph
        The int8 model: its input must be a window of the front end's frames
        (see :func:`window_shape`), or, for a streaming step model, a hop of
        them (:func:`step_shape`).
    out_dir : path
        The model's generated C directory.
    run_every : int, optional
        New frames between two model runs (a generation-time constant);
        default :func:`default_run_every` (200 ms).  Streaming: frames
        between two score writes, a multiple of the model's hop (the model
        itself runs every hop, its state needs every frame); default the hop.
    source : str
        Model name recorded in the generated comments.

    Returns
    -------
    AudioExport

    Raises
    ------
    edgekit.errors.ConfigError
        If ``features`` is not front-end features, ``run_every`` < 1, or
        (streaming) not a multiple of the hop.
    edgekit.errors.ModelError
        If the model's input is not a window of ``features.num_frames``
        frames (streaming: not a hop of frames, or a hop longer than
        ``features.num_frames``).
    """
    from edgekit.frontend import generate_c  # noqa: PLC0415

    if getattr(features, "kind", None) != "frontend":
        raise ConfigError(f"firmware from sound needs front-end features (got "
                          f"{type(features).__name__}: the float log-mel is host only)")
    fe = features.frontend
    streaming = is_streaming(graph)
    if streaming:
        hop = step_shape(graph, fe.num_channels)
        if hop > features.num_frames:
            raise ModelError(f"the streaming model takes {hop} frames per call, more than the "
                             f"{features.num_frames} frames of a clip")
    else:
        hop = 1
        window_shape(graph, fe.num_channels, features.num_frames)
    if run_every is None:
        run_every = hop if streaming else default_run_every(fe.stride_ms)
    if isinstance(run_every, bool) or not isinstance(run_every, int) or run_every < 1:
        raise ConfigError(f"run_every must be an integer >= 1 (got {run_every!r})")
    if run_every % hop:
        raise ConfigError(f"run_every must be a multiple of the streaming model's {hop} frames "
                          f"per call (got {run_every})")
    out = Path(out_dir)
    files = list(generate_c(fe, out))
    ctx = audio_context(features, graph, run_every, source)
    for name in AUDIO_FILES:
        (out / name).write_text(render(f"audio/{name}.j2", **ctx))
        files.append(out / name)
    buffers = (fe.num_channels + ctx["output_bytes"] if streaming
               else features.num_frames * fe.num_channels)
    return AudioExport(files=files, num_frames=features.num_frames,
                       num_channels=fe.num_channels, run_every=run_every,
                       window_bytes=buffers, streaming=streaming, hop=hop)


def frontend_features(frontend, graph: Graph, frames: int | None = None):
    """The front end to put ahead of a given int8 model (``build --model M --frontend F``).

    Parameters
    ----------
    frontend : str or path
        ``"tflm-micro"`` or ``"fsdd"`` (the :class:`edgekit.frontend.FrontendConfig`
        presets), a ``features.json`` of kind ``"frontend"`` (its ``num_frames``
        too) or a ``frontend.json`` (:meth:`FrontendConfig.save`).
    graph : Graph
        The model; its input must be ``[1, N, C]`` or ``[1, N, C, 1]`` int8
        with ``C`` the front end's channels.
    frames : int, optional
        Frames per model input (``--frames``); default the model's ``N``.

    Returns
    -------
    edgekit.frontend.features.FrontendFeatures

    Raises
    ------
    edgekit.errors.ConfigError
        An unknown preset, an unreadable file, or ``frames`` not matching the features.json.
    edgekit.errors.ModelError
        If the model's input is not a window of the front end's frames.
    """
    from edgekit.frontend import FrontendConfig  # noqa: PLC0415
    from edgekit.frontend.features import (  # noqa: PLC0415
        FrontendFeatures, load_features, load_frontend)

    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int)
                               or frames < 1):
        raise ConfigError(f"--frames must be an integer >= 1 (got {frames!r})")
    name = str(frontend)
    file_frames, align = None, "start"
    if name in FRONTEND_PRESETS:
        cfg = FrontendConfig.tflm_micro() if name == "tflm-micro" else FrontendConfig.fsdd()
    else:
        if Path(name).suffix.lower() != ".json":
            raise ConfigError(f"--frontend must be {' or '.join(FRONTEND_PRESETS)} or a .json "
                              f"front-end config (got {name!r})")
        cfg, file_frames = load_frontend(name)
        if file_frames is not None:      # a features.json: its clip placement too
            align = load_features(name).align
    if frames is not None and file_frames is not None and frames != file_frames:
        raise ConfigError(f"--frames {frames} but {name} says num_frames = {file_frames}")
    n = window_shape(graph, cfg.num_channels, frames if frames is not None else file_frames)
    return FrontendFeatures(cfg, n, align)
