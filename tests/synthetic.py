"""A synthetic classification task for the compression tests and benchmarks/seed_spread.py."""

from __future__ import annotations

import numpy as np

#: Example shape (frames, bands).
SHAPE = (24, 16)


def band_task(n: int = 480, seed: int = 0, classes: int = 4):
    """Each class is a frequency band that rises in time, plus noise: ``(x, y)``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(0, 1.0, (n, *SHAPE)).astype(np.float32)
    t = np.arange(SHAPE[0])[:, None] / SHAPE[0]
    for i, c in enumerate(y):
        band = slice(c * 4, c * 4 + 4)
        x[i, :, band] += 4.0 * t
    return x, y.astype(np.int64)
