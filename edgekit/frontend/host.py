"""Run the front end's C on the host: gcc shared library (cached per config) + ctypes.

Training and evaluation features come from the very C that runs on the
device.  :class:`HostFrontend` generates the sources for a config, compiles
them with the host ``gcc`` into a shared library cached under
``$EDGEKIT_CACHE/frontend/<hash>`` (else ``~/.cache/edgekit/frontend/<hash>``),
the hash covering the config, the C sources, the templates and the compiler
flags, and calls it through :mod:`ctypes`.  A library is built in a temporary
directory and moved into place, so an interrupted build never leaves a half
one.

The C keeps its state in static variables: all :class:`HostFrontend`
objects of the same config share one loaded library, hence one state.  Use
one at a time per config (``features`` resets before each clip).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from edgekit.cache import cache_dir as edgekit_cache_dir
from edgekit.errors import ConfigError, DataError, ToolchainError
from edgekit.frontend.codegen import C_UNITS, generate_c, sources_digest
from edgekit.frontend.config import FrontendConfig

__all__ = ["HostFrontend", "cache_dir", "build_library", "HOST_CFLAGS"]

#: Flags of the host library (warnings are errors: the C must stay clean).
HOST_CFLAGS = ("-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror")
_LIB_NAME = "libekfrontend.so"
_LOCK = threading.Lock()
_LOADED: dict[str, ctypes.CDLL] = {}


def cache_dir() -> Path:
    """Where the front-end libraries are cached: ``frontend/`` of :func:`edgekit.cache.cache_dir`."""
    return edgekit_cache_dir() / "frontend"


def _build_key(config: FrontendConfig, cflags) -> str:
    h = hashlib.sha256()
    h.update(config.hash().encode())
    h.update(sources_digest().encode())
    h.update(" ".join(cflags).encode())
    return h.hexdigest()[:20]


def _gcc() -> str:
    gcc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("gcc")
    if gcc is None:
        raise ToolchainError("host C compiler not found: install gcc (or set $CC) to run the "
                             "front end on the host")
    return gcc


def build_library(config: FrontendConfig, cflags=HOST_CFLAGS) -> Path:
    """The cached shared library of ``config`` (built if missing).

    Parameters
    ----------
    config : FrontendConfig
        Front-end parameters.
    cflags : sequence of str
        Compiler flags (part of the cache key).

    Returns
    -------
    pathlib.Path
        Path of ``libekfrontend.so`` in the cache.

    Raises
    ------
    ToolchainError
        If gcc is missing or the compilation fails.
    """
    key = _build_key(config, cflags)
    final = cache_dir() / key
    lib = final / _LIB_NAME
    if lib.is_file():
        return lib
    gcc = _gcc()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=final.parent))
    try:
        generate_c(config, tmp / "src")
        config.save(tmp / "frontend.json")
        cmd = [gcc, *cflags, "-o", str(tmp / _LIB_NAME), *(str(tmp / "src" / u) for u in C_UNITS)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolchainError(f"compiling the front end failed ({' '.join(cmd)}):\n"
                                 f"{proc.stderr.strip()}")
        try:
            os.replace(tmp, final)
        except OSError:
            if not lib.is_file():   # not a concurrent build that won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return lib


def _load(lib: Path) -> ctypes.CDLL:
    with _LOCK:
        key = str(lib)
        if key not in _LOADED:
            dll = ctypes.CDLL(key)
            dll.ek_frontend_reset.argtypes = []
            dll.ek_frontend_reset.restype = None
            dll.ek_frontend_push.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                             ctypes.c_size_t]
            dll.ek_frontend_push.restype = ctypes.c_size_t
            for name in ("ek_frontend_buffered", "ek_frontend_state_bytes",
                         "ek_frontend_scratch_bytes"):
                getattr(dll, name).argtypes = []
                getattr(dll, name).restype = ctypes.c_size_t
            _LOADED[key] = dll
        return _LOADED[key]


class HostFrontend:
    """The front end's C compiled for the host, called with ctypes.

    Parameters
    ----------
    config : FrontendConfig
        Front-end parameters (default :meth:`FrontendConfig.tflm_micro`).

    Raises
    ------
    ConfigError
        If ``config`` is not a FrontendConfig.
    ToolchainError
        If the library cannot be built.

    Examples
    --------
    >>> fe = HostFrontend(FrontendConfig.fsdd())          # doctest: +SKIP
    >>> fe.features(pcm_int16).shape                      # doctest: +SKIP
    (49, 40)
    """

    def __init__(self, config: FrontendConfig | None = None):
        if config is None:
            config = FrontendConfig.tflm_micro()
        if not isinstance(config, FrontendConfig):
            raise ConfigError(f"config must be a FrontendConfig (got {type(config).__name__})")
        self.config = config
        self.library = build_library(config)
        self._dll = _load(self.library)
        self.reset()

    def reset(self) -> None:
        """Start a new stream: forget buffered samples and the noise estimate."""
        self._dll.ek_frontend_reset()

    @property
    def buffered(self) -> int:
        """Samples held towards the next frame."""
        return int(self._dll.ek_frontend_buffered())

    @property
    def state_bytes(self) -> int:
        """``sizeof`` the C's static state (host ABI)."""
        return int(self._dll.ek_frontend_state_bytes())

    @property
    def scratch_bytes(self) -> int:
        """``sizeof`` the C's static scratch (host ABI)."""
        return int(self._dll.ek_frontend_scratch_bytes())

    def push(self, pcm) -> np.ndarray:
        """Feed int16 samples; return the frames that became complete.

        Parameters
        ----------
        pcm : array_like of int16
            Any number of samples (1-D), continuing the stream.

        Returns
        -------
        numpy.ndarray
            int8, shape ``(frames, num_channels)`` (``frames`` may be 0).

        Raises
        ------
        DataError
            If ``pcm`` is not a 1-D int16 array.
        """
        x = np.asarray(pcm)
        if x.dtype != np.int16:
            raise DataError(f"pcm must be int16 samples (got dtype {x.dtype})")
        if x.ndim != 1:
            raise DataError(f"pcm must be 1-D (got shape {x.shape})")
        x = np.ascontiguousarray(x)
        ch = self.config.num_channels
        max_frames = x.size // self.config.stride + 1
        out = np.empty((max_frames, ch), dtype=np.int8)
        n = self._dll.ek_frontend_push(x.ctypes.data, x.size, out.ctypes.data, max_frames)
        if n == ctypes.c_size_t(-1).value:
            raise DataError(f"ek_frontend_push refused {x.size} samples")  # pragma: no cover
        return out[:n].copy()

    def features(self, pcm_clip) -> np.ndarray:
        """Reset, then push a whole clip: its ``(frames, num_channels)`` int8 features."""
        self.reset()
        return self.push(pcm_clip)
