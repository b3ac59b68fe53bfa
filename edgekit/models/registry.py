"""Model-zoo registry: architecture names, the default recipe, size counters."""

from __future__ import annotations

from collections.abc import Callable

from edgekit.errors import ConfigError
from edgekit.models.dscnn import build_dscnn
from edgekit.models.lmu import build_lmu
from edgekit.models.lmuformer import build_lmuformer, build_spiking_lmuformer
from edgekit.models.lstm import build_lstm, lstm_macs
from edgekit.models.tiny_transformer import build_tiny_transformer

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_RECIPE",
    "PARAM_BUDGET",
    "RECIPES",
    "build_model",
    "default_recipe",
    "register_custom_layers",
    "count_params",
    "count_macs",
]

#: Architecture name -> builder ``f(input_shape, num_classes, **hparams)``.
ARCHITECTURES: dict[str, Callable] = {
    "dscnn": build_dscnn,
    "tiny_transformer": build_tiny_transformer,
    "lmu": build_lmu,
    "lmuformer": build_lmuformer,
    "spiking_lmuformer": build_spiking_lmuformer,
    "lstm": build_lstm,
}

#: Largest parameter count (Keras ``count_params``, batch-norm statistics
#: included) allowed for the default model.
PARAM_BUDGET = 25_000

#: Architectures with a recurrent state and so a per-frame streaming form
#: (:mod:`edgekit.models.streaming`).
RECURRENT = ("lmu", "lmuformer", "spiking_lmuformer")

#: Defaults used by the build pipeline to train the FSDD digit model.
#: ``arch``/``hparams`` go to :func:`build_model`; ``epochs``,
#: ``batch_size``, ``learning_rate``, ``seed`` and ``train_kwargs`` go to
#: :func:`edgekit.models.train.train`; ``num_samples`` is the size of the
#: representative set for :func:`edgekit.quantize.quantize_int8`.
#:
#: Measured on FSDD's official split (2,700 train / 300 test) with the
#: default features, the fixed-point front end (48 x 40 int8 frames,
#: :func:`edgekit.frontend.features.default_frontend_features`): width 48
#: with a (2, 4) first stride, 15,082 params, 2.6 M MACs, static RAM with
#: the arena about 21.5 KB (so arena + front end + window + stack fit in
#: 32 KB).  Float / int8 (tflite_micro) test accuracy with 20 epochs:
#: seed 0 0.993 / 0.993, seed 1 0.990 / 0.990 (seed 0 with 16 epochs: 0.987
#: / 0.983); training 110-175 s on a 2-core CPU.  Rejected: width 64 with a (2, 2) stride (the old default:
#: 0.960 float on these features, 48 KB arena), width 64 (2, 4) (0.997, but
#: 33 KB of RAM in all), width 32 (2, 4) (8,010 params: 0.987 seed 0,
#: 0.973 int8 seed 1).  Measured with 49 frames; the default is 48 (so a
#: tiny_transformer's frame_pool divides it), which gives this model the
#: same layer sizes (the first convolution drops the last, mostly silent, frame).
#:
#: Augmentation stays off (issue 15 point 5, /work/notes/loso_aug.md): with
#: ``augment = {copies = 4, shift_ms = 50, gain_db = 20, speed = 0.1}``
#: (seed 0, 20 epochs) speaker theo held out rose from 0.870 (speed/shift/±6 dB)
#: to 0.900 int8, but george 0.664, jackson 0.708, nicolas 0.602 left the
#: leave-one-speaker-out mean far below 0.90; a heavier setting (noise, tempo,
#: masks) under-fitted in 20 epochs (train accuracy 0.85, theo 0.756).
#: The same augmentation plus ``input_norm = "time_mean"`` (each mel channel
#: minus its mean over the frames; recipes/fsdd-speaker-independent.toml)
#: raised the three worst held-out speakers (float, seed 0: nicolas 0.568 ->
#: 0.658, george 0.710 -> 0.718, jackson 0.698 -> 0.770), still short of the
#: bound, so the preset stays as it is (/work/notes/loso21.md).
#: Starting from MLPerf Tiny's KWS DS-CNN (Speech Commands weights;
#: recipes/fsdd-kws-transfer.toml, ``init = "mlperf-kws"``) raised it to mean
#: 0.876 / 0.856 / 0.877, worst 0.810 / 0.746 / 0.792 (int8, seeds 0-2), still
#: short, so it is opt-in too.
DEFAULT_RECIPE: dict = {
    "arch": "dscnn",
    "hparams": {"width": 48, "num_blocks": 4, "dropout": 0.2, "first_stride": [2, 4]},
    "epochs": 20,
    "batch_size": 64,
    "learning_rate": 3e-3,
    "seed": 0,
    "train_kwargs": {"augment": False},
    "num_samples": 300,
}

#: Architecture name -> its training recipe on FSDD (same keys as
#: :data:`DEFAULT_RECIPE`).  ``edgekit build --arch NAME`` uses it.
#:
#: Float / int8 (tflite_micro) accuracy on FSDD's official split with the
#: default features (the front end, 48 x 40), seeds 0 and 1 (``edgekit train
#: --arch A --set train.seed=S``): dscnn 0.993 / 0.993 and 0.990 / 0.990;
#: tiny_transformer (6,562 params) 0.987 / 0.987 and 0.983 / 0.980;
#: lmuformer 0.997 / 0.997 and 0.993 / 0.993; spiking_lmuformer 0.987 /
#: 0.987 and 0.983 / 0.980 (with ``spiking_memory``, the preset since
#: session 23: seed 0 0.990 / 0.990; with the current training code 0.977 /
#: 0.983; with ``spiking_memory_output`` and 32 epochs: seeds 0, 1, 2
#: 0.983 / 0.980, 0.973 / 0.980 and 0.980 / 0.980; with
#: ``spiking_mixer_input`` too, the preset since session 25: 0.977 / 0.977,
#: 0.970 / 0.977 and 0.967 / 0.980); lmu 0.983 / 0.983 and 0.970 / 0.973.  The
#: per-model notes below and in the model modules were measured on the float
#: log-mel (64 x 40).
RECIPES: dict[str, dict] = {
    "dscnn": DEFAULT_RECIPE,
    # 6,658 params, 101,616 MACs; float / int8 (TFLM) test accuracy and the
    # batch-norm vs layer-norm vs no-norm comparison: see
    # edgekit.models.tiny_transformer.build_tiny_transformer.
    "tiny_transformer": {
        "arch": "tiny_transformer",
        "hparams": {"embed_dim": 24, "num_heads": 2, "num_blocks": 1, "ffn_dim": 48,
                    "frame_pool": 4, "norm": "batch", "activation": "relu", "dropout": 0.1},
        "epochs": 30,
        "batch_size": 64,
        "learning_rate": 3e-3,
        "seed": 0,
        "train_kwargs": {"augment": False},
        "num_samples": 300,
    },
    # LMU family: params, MACs, accuracies and timings in
    # edgekit/models/lmuformer.py ("Measured").
    "lmu": {
        "arch": "lmu",
        "hparams": {"units": 64, "order": 12, "memory_d": 16, "dropout": 0.1},
        "epochs": 16,
        "batch_size": 64,
        "learning_rate": 3e-3,
        "seed": 0,
        "train_kwargs": {"augment": False},
        "num_samples": 300,
    },
    "lmuformer": {
        "arch": "lmuformer",
        "hparams": {"dim": 48, "order": 8, "memory_d": 16, "patch_kernel": 4,
                    "patch_stride": 2, "mlp_ratio": 2, "dropout": 0.1},
        "epochs": 16,
        "batch_size": 64,
        "learning_rate": 3e-3,
        "seed": 0,
        "train_kwargs": {"augment": False},
        "num_samples": 300,
    },
    # TFLite's fused integer LSTM (edgekit/models/lstm.py): 32 units on the
    # 48 x 40 front-end features, mean over the steps, 9,674 params, 442,688
    # MACs.  Seed 0, official split: float / int8 (tflite_micro) 0.940 / 0.940
    # with 30 epochs at 3e-3 (about 3 min on 2 cores); 12 epochs at 5e-3:
    # 0.620 / 0.610; the last step's output instead of the mean (pool="last"),
    # 8 epochs at 5e-3: 0.397 / 0.397.
    "lstm": {
        "arch": "lstm",
        "hparams": {"units": 32, "dropout": 0.1, "pool": "mean"},
        "epochs": 30,
        "batch_size": 64,
        "learning_rate": 3e-3,
        "seed": 0,
        "train_kwargs": {"augment": False},
        "num_samples": 300,
    },
    "spiking_lmuformer": {
        "arch": "spiking_lmuformer",
        "hparams": {"dim": 48, "order": 8, "memory_d": 16, "patch_kernel": 4,
                    "patch_stride": 2, "mlp_ratio": 2, "dropout": 0.1,
                    "threshold": 1.0, "decay": 0.5, "reset": "hard", "spiking_memory": True,
                    "spiking_memory_output": True, "spiking_mixer_input": True},
        # since session 25: the memory neurons in front of W_m, a neuron on x1
        # in front of mix1, and 32 epochs (16 left the training accuracy
        # rising). Seeds 0 / 1 / 2 float 0.977 / 0.970 / 0.967, int8 0.977 /
        # 0.977 / 0.980; about 0.58x the lmuformer's instructions (trained)
        "epochs": 32,
        "batch_size": 64,
        "learning_rate": 3e-3,
        "seed": 0,
        "train_kwargs": {"augment": False},
        "num_samples": 300,
    },
}


def register_custom_layers() -> None:
    """Make the zoo's custom Keras layers known to ``keras.saving.load_model``.

    The layer classes are defined lazily (importing :mod:`edgekit.models`
    must not import TensorFlow); a saved zoo model can only be loaded after
    they are registered, so every loader calls this first.
    """
    import edgekit.models.layers_tiny_transformer  # noqa: F401, PLC0415 (registers on import)
    from edgekit.models import lmu, spiking  # noqa: PLC0415

    _ = (lmu.LMU, spiking.LIF)   # module __getattr__ defines and registers them


def default_recipe(arch: str) -> dict:
    """The FSDD training recipe of ``arch`` (a copy)."""
    if arch not in RECIPES:
        raise ConfigError(f"no recipe for architecture {arch!r}; known: {', '.join(sorted(RECIPES))}")
    import copy  # noqa: PLC0415

    return copy.deepcopy(RECIPES[arch])


def build_model(arch: str, input_shape, num_classes: int, *, seed: int | None = None, **hparams):
    """Build a model-zoo architecture by name.

    Parameters
    ----------
    arch : str
        Key of :data:`ARCHITECTURES` (e.g. ``"dscnn"``).
    input_shape : tuple of int
        ``(frames, mels)`` of one example.
    num_classes : int
        Number of output classes.
    seed : int, optional
        If given, all random seeds are set first so that the initial weights
        are reproducible.
    **hparams
        Architecture hyper-parameters (see the builder, e.g.
        :func:`edgekit.models.dscnn.build_dscnn`).

    Returns
    -------
    keras.Model
        The uncompiled model.

    Raises
    ------
    ConfigError
        If ``arch`` is unknown or a hyper-parameter is invalid.
    """
    if arch not in ARCHITECTURES:
        names = ", ".join(sorted(ARCHITECTURES))
        raise ConfigError(f"unknown architecture {arch!r}; available: {names}")
    builder = ARCHITECTURES[arch]
    if seed is not None:
        import keras

        keras.utils.set_random_seed(int(seed))
    try:
        return builder(input_shape=input_shape, num_classes=num_classes, **hparams)
    except TypeError as exc:  # unknown keyword argument
        raise ConfigError(f"bad hyper-parameters for {arch!r}: {exc}") from None


def count_params(model, *, trainable_only: bool = False) -> int:
    """Number of parameters of a Keras model.

    Parameters
    ----------
    model : keras.Model
        A built model.
    trainable_only : bool
        Count only trainable weights (drops batch-norm moving statistics).

    Returns
    -------
    int
        Total number of scalar weights (batch-norm statistics included unless
        ``trainable_only``).  The int8 TFLite model has fewer, because batch
        norm is folded into the convolutions.
    """
    weights = model.trainable_weights if trainable_only else model.weights
    total = 0
    for w in weights:
        n = 1
        for d in w.shape:
            n *= int(d)
        total += n
    return total


def count_macs(model) -> int:
    """Multiply-accumulate operations of one forward pass (batch 1).

    Counted per layer, by hand, for the layers that do the arithmetic:

    * ``Conv2D``: ``out_h * out_w * out_c * k_h * k_w * in_c / groups``
    * ``DepthwiseConv2D``: ``out_h * out_w * in_c * multiplier * k_h * k_w``
    * ``Dense``: ``in_features * units`` (per position for >2-D inputs)
    * ``Conv1D``: ``out_len * out_c * k * in_c / groups``
    * layers with a ``count_macs()`` method (e.g. the tiny transformer's
      ``StaticSelfAttention``: projections and attention matmuls; the LMU's
      projections and window-form memory convolution): its result

    Bias additions, batch norm (folded at conversion), activations, pooling
    and softmax are not counted.

    Parameters
    ----------
    model : keras.Model
        A built model (nested models are walked recursively).

    Returns
    -------
    int
        Total MACs.
    """
    from keras import layers

    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:  # nested model
            total += count_macs(layer)
            continue
        if callable(getattr(layer, "count_macs", None)):  # custom layer counting itself
            total += int(layer.count_macs())
            continue
        if isinstance(layer, layers.DepthwiseConv2D):
            _, oh, ow, _ = layer.output.shape
            kh, kw = layer.kernel_size
            in_c = int(layer.input.shape[-1])
            total += int(oh) * int(ow) * in_c * int(layer.depth_multiplier) * kh * kw
        elif isinstance(layer, layers.Conv2D):
            _, oh, ow, oc = layer.output.shape
            kh, kw = layer.kernel_size
            in_c = int(layer.input.shape[-1])
            groups = int(getattr(layer, "groups", 1) or 1)
            total += int(oh) * int(ow) * int(oc) * kh * kw * in_c // groups
        elif isinstance(layer, layers.Conv1D):
            _, ol, oc = layer.output.shape
            in_c = int(layer.input.shape[-1])
            groups = int(getattr(layer, "groups", 1) or 1)
            total += int(ol) * int(oc) * int(layer.kernel_size[0]) * in_c // groups
        elif isinstance(layer, layers.LSTM):
            total += lstm_macs(layer)
        elif isinstance(layer, layers.Dense):
            in_shape = layer.input.shape
            positions = 1
            for d in in_shape[1:-1]:
                positions *= int(d)
            total += positions * int(in_shape[-1]) * int(layer.units)
    return total
