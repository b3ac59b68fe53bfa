"""Start a DS-CNN from MLPerf Tiny's keyword-spotting model (``init = "mlperf-kws"``).

MLPerf Tiny's reference keyword spotter (Apache-2.0) is a DS-CNN trained on
Google Speech Commands v2 (about 2,600 speakers, the spoken digits among its
"unknown" words): input 49 x 10 MFCC (16 kHz, 30 ms window, 20 ms stride, 40
log-mel bins over 20-4000 Hz, the first 10 DCT coefficients as
``tf.signal.mfccs_from_log_mel_spectrograms`` computes them), a 10 x 4 stride-2
convolution of 64 channels, four depthwise-separable blocks of 64, an average
pool and a 12-way classifier, each convolution followed by batch norm and ReLU.

Its float weights (batch norm not folded) are read from the checkpoint of its
SavedModel, ``<models>/mlperf-tiny/kws_ref_model_savedmodel/variables/``, where
``<models>`` is ``$EDGEKIT_MODELS``, else ``$EDGEKIT_DATA/../models``.  (Its
``kws_ref_model_float32.tflite`` holds the convolution weights as int8
with batch norm folded, so the checkpoint is the exact source.)

:func:`edgekit.models.dscnn.build_dscnn` with ``init="mlperf-kws"`` calls
:func:`load_mlperf_kws`: the model's convolutions and batch norms take the
checkpoint's values (the convolutions' biases move into the following batch
norm's moving mean, as :func:`build_dscnn`'s convolutions have none), the
classifier too when it has the checkpoint's 12 classes, and the batch norm
after the fixed DCT (``cepstra``) is set to map each coefficient to the mean
and spread that MLPerf's feature pipeline gives (:data:`KWS_MFCC_MEAN`,
:data:`KWS_MFCC_STD`), so the first convolution sees inputs on the scale it
was trained on.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgekit.errors import ConfigError, DataError

__all__ = ["KWS_MFCC_MEAN", "KWS_MFCC_STD", "load_mlperf_kws", "mlperf_kws_checkpoint",
           "models_dir"]

#: Mean and standard deviation of each of the 10 MFCCs of MLPerf Tiny's KWS
#: feature pipeline (peak-normalised clip zero-padded to 1 s at 16 kHz,
#: ``tf.signal.stft(480, 320, 512)`` magnitude, 40 mel bins 20-4000 Hz,
#: ``log(mel + 1e-6)``, ``tf.signal.mfccs_from_log_mel_spectrograms``), over
#: all frames of the 3,000 FSDD recordings resampled to 16 kHz (``resample_poly``
#: 2 / 1).  Per speaker, coefficient 0's mean ranges -55 .. -77 and its std
#: 59 .. 64 (mostly silence against speech); the others' means stay within
#: +-2.1 and their stds within 0.4 .. 3.3.
KWS_MFCC_MEAN = (-67.12, 0.81, 0.40, -0.20, -0.76, -0.35, -0.30, -0.12, -0.25, -0.10)
KWS_MFCC_STD = (62.70, 2.55, 1.68, 1.29, 1.43, 1.17, 0.85, 0.71, 0.67, 0.59)

_CHECKPOINT = Path("mlperf-tiny") / "kws_ref_model_savedmodel" / "variables" / "variables"
_VALUE = "layer_with_weights-{}/{}/.ATTRIBUTES/VARIABLE_VALUE"


def models_dir() -> Path:
    """The shared models folder: ``$EDGEKIT_MODELS``, else ``$EDGEKIT_DATA/../models``.

    Raises
    ------
    DataError
        Neither variable is set.
    """
    if os.environ.get("EDGEKIT_MODELS"):
        return Path(os.environ["EDGEKIT_MODELS"]).expanduser()
    if os.environ.get("EDGEKIT_DATA"):
        return Path(os.environ["EDGEKIT_DATA"]).expanduser().parent / "models"
    raise DataError("init='mlperf-kws' needs the MLPerf Tiny models: set EDGEKIT_MODELS to the "
                    "folder holding mlperf-tiny/ (or EDGEKIT_DATA, with models/ beside it)")


def mlperf_kws_checkpoint(models: str | Path | None = None) -> Path:
    """The checkpoint prefix of the KWS SavedModel under ``models`` (default :func:`models_dir`).

    Raises
    ------
    DataError
        The checkpoint's ``.index`` file is missing (the message names it).
    """
    prefix = (Path(models).expanduser() if models is not None else models_dir()) / _CHECKPOINT
    index = prefix.with_name(prefix.name + ".index")
    if not index.is_file():
        raise DataError(f"MLPerf Tiny KWS weights not found: {index} (the SavedModel's "
                        "checkpoint; set EDGEKIT_MODELS to the folder holding mlperf-tiny/)")
    return prefix


def _plan(num_blocks: int) -> list[tuple[str, str]]:
    """``(our layer, kind)`` in the checkpoint's ``layer_with_weights`` order."""
    plan = [("conv0", "conv"), ("conv0_bn", "bn")]
    for i in range(1, num_blocks + 1):
        plan += [(f"block{i}_dw", "dw"), (f"block{i}_dw_bn", "bn"),
                 (f"block{i}_pw", "conv"), (f"block{i}_pw_bn", "bn")]
    return plan + [("classifier", "dense")]


def load_mlperf_kws(model, models: str | Path | None = None) -> None:
    """Set ``model``'s weights from MLPerf Tiny's KWS DS-CNN (see the module docs).

    Parameters
    ----------
    model : keras.Model
        From :func:`edgekit.models.dscnn.build_dscnn` with ``width=64``,
        ``num_blocks=4``, ``first_kernel=(10, 4)`` and 10 input coefficients.
    models : str or pathlib.Path, optional
        The folder holding ``mlperf-tiny/`` (default :func:`models_dir`).

    Raises
    ------
    DataError
        The checkpoint is missing.
    ConfigError
        A layer's shape differs from the checkpoint's.
    """
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    reader = tf.train.load_checkpoint(str(mlperf_kws_checkpoint(models)))
    names = {layer.name for layer in model.layers}
    blocks = sum(1 for n in names if n.startswith("block") and n.endswith("_pw"))
    if blocks != 4:
        raise ConfigError(f"init='mlperf-kws' needs num_blocks=4 (got {blocks})")
    bias = None
    for k, (name, kind) in enumerate(_plan(blocks)):
        layer = model.get_layer(name)

        def value(var, k=k):
            return reader.get_tensor(_VALUE.format(k, var))

        if kind == "bn":
            gamma, beta = value("gamma"), value("beta")
            mean, var = value("moving_mean"), value("moving_variance")
            weights = [gamma, beta, mean - bias, var]
        elif kind == "dense":
            weights = [value("kernel"), value("bias")]
            if [tuple(w.shape) for w in layer.get_weights()] != [w.shape for w in weights]:
                continue  # a new head (another number of classes) keeps its initialisation
        else:
            weights = [value("depthwise_kernel" if kind == "dw" else "kernel")]
            bias = value("bias")
        have = [tuple(w.shape) for w in layer.get_weights()]
        if have != [w.shape for w in weights]:
            raise ConfigError(f"init='mlperf-kws': layer {name} has weights of shapes {have}, "
                              f"the MLPerf Tiny KWS model {[w.shape for w in weights]} (it needs "
                              "width=64, first_kernel=(10, 4) and 10 input coefficients)")
        layer.set_weights([np.asarray(w, np.float32) for w in weights])
    if "dct_bn" in names:
        bn = model.get_layer("dct_bn")
        gamma, beta, mean, var = bn.get_weights()
        bn.set_weights([np.asarray(KWS_MFCC_STD, np.float32), np.asarray(KWS_MFCC_MEAN, np.float32),
                        mean, var])
