"""Argument checks (and the lazy layer-class attribute) shared by the model
builders.

The messages are part of the interface (tests and users match on them):
change them here only on purpose.
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConfigError


def pos_int(value, name: str) -> int:
    """``value`` as an int if it is a positive int (NumPy ints too), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{name} must be > 0 (got {value!r})")
    return int(value)


def positive_int(value, name: str) -> int:
    """Return ``value`` if it is a positive (Python) int, else raise ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be > 0 (got {value})")
    return value


def input_shape(input_shape) -> tuple[int, int]:
    """``(frames, mels)``, both positive."""
    try:
        frames, mels = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ConfigError(f"input_shape must be (frames, mels) (got {input_shape!r})") from None
    if frames <= 0 or mels <= 0:
        raise ConfigError(f"input_shape must be positive (got {tuple(input_shape)!r})")
    return frames, mels


def num_classes(num_classes) -> int:
    """An int >= 2."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2 (got {num_classes!r})")
    return num_classes


def dropout(dropout) -> None:
    """A rate in [0, 1)."""
    if not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"dropout must be in [0, 1) (got {dropout})")


def bn_momentum(bn_momentum) -> None:
    """A momentum in (0, 1)."""
    if not 0.0 < float(bn_momentum) < 1.0:
        raise ConfigError(f"bn_momentum must be in (0, 1) (got {bn_momentum})")


def optional_theta(theta) -> None:
    """None, or a positive (non-bool) int or float."""
    if theta is not None and not (isinstance(theta, (int, float)) and not
                                  isinstance(theta, bool) and theta > 0):
        raise ConfigError(f"theta must be > 0 (got {theta!r})")


def lazy_attr(attr: str, factory):
    """A module ``__getattr__`` (PEP 562) that builds ``attr`` with ``factory()``
    on first access and caches it (keeps TensorFlow out of module imports)."""
    cache = []

    def __getattr__(name):
        if name == attr:
            if not cache:
                cache.append(factory())
            return cache[0]
        raise AttributeError(name)

    return __getattr__
