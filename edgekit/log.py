"""One progress/log object for the library's long-running functions."""

from __future__ import annotations

import sys
import time


class Progress:
    """Prints stage lines (``[edgekit] 3/7 quantize: ...``) to a stream.

    Library functions take an optional ``progress`` argument; the CLI passes
    one that writes to stderr, tests pass ``Progress(quiet=True)``.
    """

    def __init__(self, stream=None, quiet: bool = False, total: int | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.total = total
        self.step = 0
        self.t0 = time.monotonic()

    def begin(self, total: int) -> None:
        """Start numbering stages ``1/total`` again (each plan run, e.g. each LOSO speaker)."""
        self.total = total
        self.step = 0

    def stage(self, name: str, message: str = "") -> None:
        self.step += 1
        of = f"/{self.total}" if self.total else ""
        self._write(f"[edgekit] {self.step}{of} {name}" + (f": {message}" if message else ""))

    def info(self, message: str) -> None:
        self._write(f"[edgekit]     {message}")

    def warn(self, message: str) -> None:
        self._write(f"[edgekit] warning: {message}", force=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _write(self, line: str, force: bool = False) -> None:
        if self.quiet and not force:
            return
        print(line, file=self.stream, flush=True)
