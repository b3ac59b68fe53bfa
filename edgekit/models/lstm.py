"""LSTM keyword spotter, deployed as TFLite's fused integer LSTM.

The network::

    Input (frames, mels) -> Rescaling(input_scale) -> LSTM(units, every step)
        -> mean over the steps -> Dropout -> Dense(num_classes) -> Softmax

(``pool="last"``: the last step's output instead of the mean; an FSDD clip
ends in silence, which the last state has mostly forgotten the digit by).

trains in Keras 3 like every zoo model.  Keras 3's ``LSTM`` traces to a
TensorFlow while loop, which TF 2.21's converter keeps as a WHILE op (and
its int8 calibrator crashes on); Keras 2's (``tf_keras``) LSTM carries the
``api_implements`` annotation the converter fuses into one
UNIDIRECTIONAL_SEQUENCE_LSTM (int8 input and output, int16 cell state,
int8 weights per gate).  :func:`tf_keras_twin` therefore rebuilds a chain of
Keras 3 ``Rescaling`` / ``LSTM`` / ``GlobalAveragePooling1D`` / ``Dense`` /
``Dropout`` / ``Flatten`` layers in
``tf_keras`` with the same weights (the same gate order i, f, c, o and
kernel layout), and :meth:`edgekit.quantize.convert.FloatModel.converter`
converts that twin.

The fused op's hidden and cell states are TFLite variable tensors, which
tflite_micro would carry over from one invoke to the next; the generated C
(and edgekit's tflite_micro reference, which resets before each invoke)
start every call from zero, as Keras computes the model.  The streaming form
(``edgekit build --arch lstm --streaming``,
:mod:`edgekit.quantize.lstm_stream`) and ``edgekit build --model X
--stateful`` keep them between calls instead, until ``edgekit_reset()``.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgekit.errors import ConfigError, ModelError

__all__ = ["build_lstm", "has_lstm", "lstm_macs", "tf_keras_twin"]


def build_lstm(input_shape: Sequence[int] = (48, 40), num_classes: int = 10, units: int = 32,
               dropout: float = 0.1, input_scale: float = 0.125, pool: str = "mean", *,
               name: str = "lstm"):
    """Build the LSTM classifier (see module docs).

    Parameters
    ----------
    input_shape : (int, int)
        ``(frames, features)`` of one example.
    num_classes : int
    units : int
        LSTM hidden size.
    dropout : float
        Dropout before the classifier, in [0, 1).
    input_scale : float
        Factor on the input features (the front end's frames span 0..15.6:
        unscaled they saturate the gates of a freshly initialised LSTM).
    pool : {"mean", "last"}
        What the classifier sees: the mean of the LSTM outputs over the steps,
        or the last step's.
    name : str

    Returns
    -------
    keras.Model

    Raises
    ------
    ConfigError
        For a bad hyper-parameter.
    """
    import keras

    if len(tuple(input_shape)) != 2:
        raise ConfigError(f"input_shape must be (frames, features) (got {tuple(input_shape)})")
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ConfigError(f"units must be a positive int (got {units!r})")
    if not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"dropout must be in [0, 1) (got {dropout})")
    if pool not in ("mean", "last"):
        raise ConfigError(f"pool must be 'mean' or 'last' (got {pool!r})")
    if not float(input_scale) > 0:
        raise ConfigError(f"input_scale must be > 0 (got {input_scale})")
    inp = keras.Input(tuple(int(d) for d in input_shape), name="features")
    h = keras.layers.Rescaling(float(input_scale), name="scale")(inp)
    h = keras.layers.LSTM(units, return_sequences=pool == "mean", name="lstm")(h)
    if pool == "mean":
        h = keras.layers.GlobalAveragePooling1D(name="mean")(h)
    h = keras.layers.Dropout(float(dropout), name="dropout")(h)
    out = keras.layers.Dense(int(num_classes), activation="softmax", name="classifier")(h)
    return keras.Model(inp, out, name=name)


def lstm_macs(layer) -> int:
    """MACs of one Keras ``LSTM`` layer call: steps x 4 gates x units x (inputs + units)."""
    steps, feats = (int(d) for d in layer.input.shape[1:3])
    return steps * 4 * int(layer.units) * (feats + int(layer.units))


def _flat_layers(model):
    stack, out = list(getattr(model, "layers", None) or []), []
    while stack:
        layer = stack.pop(0)
        if getattr(layer, "layers", None):
            stack = list(layer.layers) + stack
        else:
            out.append(layer)
    return out


def has_lstm(model) -> bool:
    """Whether ``model`` (or a model nested in it) has a Keras 3 ``LSTM`` layer.

    Parameters
    ----------
    model : keras.Model or None

    Returns
    -------
    bool
    """
    if model is None:
        return False
    import keras

    return any(isinstance(lay, keras.layers.LSTM) for lay in _flat_layers(model))


def tf_keras_twin(model):
    """The same network in ``tf_keras`` (batch 1), for the TFLite converter's fused LSTM.

    Parameters
    ----------
    model : keras.Model
        A chain (each layer feeding the next) of ``InputLayer``,
        ``Rescaling``, ``LSTM`` (tanh / sigmoid, no dropout in inference),
        ``GlobalAveragePooling1D``, ``Dense``, ``Dropout`` and ``Flatten``
        layers, possibly nested, with one fixed-shape input.  A
        ``Rescaling`` (no offset) right before an ``LSTM`` is folded into its
        input kernel.

    Returns
    -------
    tf_keras.Model
        With the weights of ``model``.

    Raises
    ------
    ModelError
        For any other layer or LSTM option the twin cannot express.
    """
    import keras
    import tf_keras

    shape = tuple(int(d) for d in model.input_shape[1:])
    inp = tf_keras.Input(shape, batch_size=1)
    x = inp
    layers = [lay for lay in _flat_layers(model)
              if not isinstance(lay, (keras.layers.InputLayer, keras.layers.Dropout))]
    for i, lay in enumerate(layers):
        weights = lay.get_weights()
        if (isinstance(lay, keras.layers.Rescaling) and float(lay.offset) == 0.0
                and i + 1 < len(layers) and isinstance(layers[i + 1], keras.layers.LSTM)):
            # LSTM(s * x) with input kernel W is LSTM(x) with kernel s * W: folded
            # (no int8 MUL over the whole input).
            scale = float(lay.scale)
            continue
        if isinstance(lay, keras.layers.LSTM):
            cell = lay.cell
            acts = (keras.activations.serialize(cell.activation),
                    keras.activations.serialize(cell.recurrent_activation))
            names = tuple(a if isinstance(a, str) else a.get("config", a) for a in acts)
            if names != ("tanh", "sigmoid") or lay.go_backwards or lay.return_state:
                raise ModelError(f"LSTM layer {lay.name!r}: only tanh/sigmoid, forward, "
                                 "no returned state is deployable as TFLite's fused LSTM")
            twin = tf_keras.layers.LSTM(lay.units, return_sequences=lay.return_sequences,
                                        use_bias=cell.use_bias,
                                        unit_forget_bias=False, name=lay.name)
            if i > 0 and isinstance(layers[i - 1], keras.layers.Rescaling) \
                    and float(layers[i - 1].offset) == 0.0:
                weights = [weights[0] * scale] + weights[1:]
        elif isinstance(lay, keras.layers.Dense):
            twin = tf_keras.layers.Dense(lay.units, activation=keras.activations.serialize(
                lay.activation), use_bias=lay.use_bias, name=lay.name)
        elif isinstance(lay, keras.layers.Flatten):
            twin = tf_keras.layers.Flatten(name=lay.name)
        elif isinstance(lay, keras.layers.GlobalAveragePooling1D):
            twin = tf_keras.layers.GlobalAveragePooling1D(name=lay.name)
        elif isinstance(lay, keras.layers.Rescaling):
            twin = tf_keras.layers.Rescaling(float(lay.scale), float(lay.offset), name=lay.name)
        else:
            raise ModelError(f"layer {lay.name!r} ({type(lay).__name__}) has no tf_keras twin "
                             "for the LSTM conversion (Rescaling, LSTM, GlobalAveragePooling1D, "
                             "Dense, Dropout, Flatten)")
        x = twin(x)
        if weights:
            twin.set_weights(weights)
    return tf_keras.Model(inp, x, name=f"{model.name}_tf_keras")
