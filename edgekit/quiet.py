"""Quiet start-up: keep TensorFlow's C++ log lines out of a user's terminal.

A newcomer running ``edgekit build`` should see edgekit's own lines and the
Keras progress bars, not TensorFlow's C++ logging (CUDA probing, absl's
"All log messages before absl::InitializeLog()", the CPU-instructions
notice, NodeDef attribute errors, the converter's ``fully_quantize:`` line).

``TF_CPP_MIN_LOG_LEVEL=3`` silences what TensorFlow logs once it is loaded,
but not what its shared libraries log while they load (TensorFlow 2.19+
logs those through absl before reading the variable), nor what the TFLite
converter prints with ``printf``.  So :func:`quiet_startup` also makes the
first ``import tensorflow`` run with file descriptor 2 captured, and
:func:`filtered_stderr` does the same around a converter call; the captured
text is written back without the C++ log lines, so real messages (and an
import error's explanation) still reach the terminal.

The CLI calls :func:`quiet_startup` first thing, before any command can
import TensorFlow.  Set ``EDGEKIT_TF_LOG=1`` to see TensorFlow's own logging.
``TF_ENABLE_ONEDNN_OPTS`` and ``CUDA_VISIBLE_DEVICES`` are left alone: the
first changes numerics, the second silences nothing here (TensorFlow probes
CUDA while loading either way) and would take a GPU away from training.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager

__all__ = ["TF_LOG_ENV", "filtered_stderr", "is_cpp_log_line", "quiet_startup"]

#: Environment variable that turns the quieting off (``EDGEKIT_TF_LOG=1``).
TF_LOG_ENV = "EDGEKIT_TF_LOG"

# absl:  I0000 00:00:1796013020.697640    8959 cudart_stub.cc:31] ...
# tsl:   2026-01-02 03:04:05.123456: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] ...
# then absl's notice before its first line, the second line of the CPU-instructions
# notice (cpu_feature_guard), the TFLite calibrator's printf and LiteRT's XNNPACK notices.
_CPP_LOG = re.compile(
    r"""^(?:
        [IWEF]\d{4}\ \d\d:\d\d:\d+\.\d+\s+\d+\ [^\s:]+:\d+\]
      | \d{4}-\d\d-\d\d\ \d\d:\d\d:\d\d\.\d+:\ [IWEF]\ [^\s:]+:\d+\]
      | WARNING:\ All\ log\ messages\ before\ absl::InitializeLog\(\)
      | To\ enable\ the\ following\ instructions:.*rebuild\ TensorFlow
      | fully_quantize:\ \d+,\ inference_type:
      | INFO:\ Created\ TensorFlow\ Lite\ [\w\ ]*delegate\ for\ CPU\.
      | INFO:\ Replacing\ \d+\ node\(s\)\ with\ delegate
    )""", re.X)

#: Modules whose Python warnings are noise to a user of the CLI.
_NOISY_MODULES = r"(tensorflow|tf_keras|keras|absl|onnx2tf|google\.protobuf)(\.|$)"


def is_cpp_log_line(line: str) -> bool:
    """True for a line of TensorFlow's (absl/tsl) C++ logging or the converter's prints.

    Parameters
    ----------
    line : str
        One line of stderr output, with or without its newline.

    Returns
    -------
    bool
        Whether :func:`filtered_stderr` drops the line.
    """
    return bool(_CPP_LOG.match(line.lstrip("\r")))


@contextmanager
def filtered_stderr():
    """Capture file descriptor 2 (C++ output included); write it back without C++ log lines.

    Python's ``sys.stderr`` is flushed before and after, so its writes keep
    their order.  If the body raises, everything captured is written back,
    log lines included (they may explain the error).

    Notes
    -----
    With ``EDGEKIT_TF_LOG`` set, nothing is captured.
    """
    if os.environ.get(TF_LOG_ENV):
        yield
        return
    _flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            _flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            keep = text if failed else "".join(
                ln for ln in text.splitlines(keepends=True) if not is_cpp_log_line(ln))
            if keep:
                os.write(2, keep.encode("utf-8"))


def _flush() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):   # a closed or detached stream
            pass


class _QuietImport:
    """Meta-path finder: runs the first ``import tensorflow`` inside :func:`filtered_stderr`."""

    names = frozenset({"tensorflow"})

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def quiet_exec_module(module):
            with filtered_stderr():
                exec_module(module)

        loader.exec_module = quiet_exec_module
        return spec


def quiet_startup() -> None:
    """Silence TensorFlow's logging before it is imported (idempotent).

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` (unless the user set it), raises the
    ``tensorflow`` and ``absl`` Python loggers to ERROR, ignores Python
    warnings raised inside TensorFlow/Keras/absl/onnx2tf, and makes the first
    ``import tensorflow`` drop the C++ log lines its libraries print while
    loading.  Edgekit's own messages, Keras progress bars (stdout) and
    exceptions are untouched.  Does nothing when ``EDGEKIT_TF_LOG`` is set.
    """
    if os.environ.get(TF_LOG_ENV):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=_NOISY_MODULES)
    if "tensorflow" not in sys.modules and not any(
            isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())
