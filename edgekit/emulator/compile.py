"""Compile C sources one object each, in parallel, through an object cache; then link.

The generated ``model.c`` changes with every model, but the kernels, the
front end and the harness are the same files build after build; compiling
them again (with AddressSanitizer on the host, several seconds each) was
most of a build's compile time.  :func:`compile_and_link` compiles every
source to its own object and keeps objects in a content-addressed cache,
like ``ccache`` in its "direct mode":

- the key of an object is the SHA-256 of the compiler's identity (path and
  ``-dumpfullversion -dumpmachine``), the flags (without include
  directories), the source's bytes and, by name and bytes, every header it
  can reach through ``#include "..."`` (searched as the compiler searches
  quoted includes: the including file's folder, then the ``-I`` folders;
  includes under ``#if`` count too, which can only make the key stricter);
- objects are written to the cache atomically (a temporary file, then a
  rename), so a concurrent build never reads half an object;
- paths are mapped out of the objects (``-ffile-prefix-map``), so an object
  does not depend on the folder it was built in and its debug information
  names files relative to the build.

The cache lives in ``objects/`` of :func:`edgekit.cache.cache_dir`, keeps
the :data:`MAX_ENTRIES` most recently used objects, and is bypassed when
:data:`OBJECT_CACHE_ENV` is ``0``.  Sources are compiled in parallel, one
compiler process per core.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from edgekit.cache import cache_dir
from edgekit.errors import ToolchainError

__all__ = ["OBJECT_CACHE_ENV", "MAX_ENTRIES", "CompileStats", "compile_and_link",
           "object_cache_dir", "include_closure"]

#: Environment variable: ``0`` compiles every object afresh (no cache).
OBJECT_CACHE_ENV = "EDGEKIT_OBJECT_CACHE"
#: Objects kept in the cache (least recently used ones are removed beyond).
MAX_ENTRIES = 4000
#: Seconds one compiler or linker run may take.
COMPILE_TIMEOUT = 600.0

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.MULTILINE)
_COMPILER_IDS: dict[str, str] = {}


@dataclass
class CompileStats:
    """How the objects of one :func:`compile_and_link` call were obtained."""

    compiled: int = 0
    cached: int = 0


def object_cache_dir() -> Path:
    """The object cache folder (not created): ``objects/`` of the edgekit cache.

    Returns
    -------
    pathlib.Path
    """
    return cache_dir() / "objects"


def include_closure(source: Path, include_dirs: list[Path]) -> list[Path]:
    """Headers reachable from ``source`` through quoted includes.

    Parameters
    ----------
    source : pathlib.Path
        A C source or header.
    include_dirs : list of pathlib.Path
        The ``-I`` folders, in order.

    Returns
    -------
    list of pathlib.Path
        Every header found, each once, in discovery order (a name that
        resolves nowhere is skipped: the compiler reports it if it is used).
    """
    seen: dict[Path, None] = {}
    todo = [Path(source)]
    while todo:
        current = todo.pop()
        text = current.read_text(encoding="utf-8", errors="replace")
        for name in _INCLUDE.findall(text):
            for folder in (current.parent, *include_dirs):
                candidate = (folder / name).resolve()
                if candidate.is_file():
                    if candidate not in seen:
                        seen[candidate] = None
                        todo.append(candidate)
                    break
    return list(seen)


def _compiler_id(cc: str) -> str:
    if cc not in _COMPILER_IDS:
        try:
            proc = subprocess.run([cc, "-dumpfullversion", "-dumpmachine"], capture_output=True,
                                  text=True, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ToolchainError(f"cannot run {cc}: {exc}") from exc
        _COMPILER_IDS[cc] = f"{shutil.which(cc) or cc}\n{proc.stdout.strip()}"
    return _COMPILER_IDS[cc]


def _key(cc: str, cflags: list[str], source: Path, include_dirs: list[Path]) -> str:
    h = hashlib.sha256()
    for part in (_compiler_id(cc), "\0".join(cflags), source.name):
        h.update(part.encode())
        h.update(b"\0")
    h.update(source.read_bytes())
    for header in include_closure(source, include_dirs):
        h.update(b"\0" + header.name.encode() + b"\0")
        h.update(header.read_bytes())
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              timeout=COMPILE_TIMEOUT, check=False)
    except FileNotFoundError as exc:
        raise ToolchainError(f"cannot run {cmd[0]}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"{what} timed out after {COMPILE_TIMEOUT:.0f} s") from exc
    if proc.returncode != 0:
        raise ToolchainError(
            f"{what} failed (exit {proc.returncode}):\n"
            f"$ {shlex.join(cmd)}\n{proc.stderr.strip()}\n{proc.stdout.strip()}".rstrip())


def _store(obj: Path, cached: Path) -> None:
    """Copy ``obj`` into the cache atomically (a failure only costs the cache entry)."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
        os.close(fd)
        shutil.copyfile(obj, tmp)
        os.replace(tmp, cached)
    except OSError:
        return


def _prune(folder: Path) -> None:
    try:
        entries = sorted(folder.glob("*.o"), key=lambda p: p.stat().st_mtime)
        for old in entries[:max(0, len(entries) - MAX_ENTRIES)]:
            old.unlink(missing_ok=True)
    except OSError:
        return


def compile_and_link(cc: str, cflags: list[str], sources: list[Path], include_dirs: list[Path],
                     link_flags: list[str], output: Path, obj_dir: Path, what: str
                     ) -> tuple[list[str], CompileStats]:
    """Compile ``sources`` to objects (cached, in parallel) and link them into ``output``.

    Parameters
    ----------
    cc : str
        The compiler driver (``gcc``, ``arm-none-eabi-gcc``); it also links.
    cflags : list of str
        Compile flags (optimisation, warnings, CPU, defines), without ``-I``;
        they are passed to the link too (CPU and sanitizer flags matter there).
    sources : list of pathlib.Path
        C files; their object names (``NAME.o``) must be distinct.
    include_dirs : list of pathlib.Path
        ``-I`` folders, in order.
    link_flags : list of str
        Flags and libraries after the objects (linker script, ``-lm``, ...).
    output : pathlib.Path
        The executable or ELF written; the link runs in its folder (a
        relative linker script or map file is found and written there).
    obj_dir : pathlib.Path
        Folder receiving the objects (created).
    what : str
        What is built, for error messages.

    Returns
    -------
    tuple of (list of str, CompileStats)
        The link command and how many objects were compiled or taken from
        the cache.

    Raises
    ------
    edgekit.errors.ToolchainError
        If a compilation or the link fails (the message carries the command
        and the compiler's output).
    """
    obj_dir.mkdir(parents=True, exist_ok=True)
    incs = [Path(d).resolve() for d in include_dirs]
    use_cache = os.environ.get(OBJECT_CACHE_ENV, "1") != "0"
    cache = object_cache_dir()
    stats = CompileStats()
    prefix_maps = [f"-ffile-prefix-map={d}={d.name}" for d in {*incs, *(Path(s).resolve().parent
                                                                         for s in sources)}]

    def one(source: Path) -> tuple[Path, bool]:
        source = Path(source).resolve()
        obj = obj_dir / (source.stem + ".o")
        key = _key(cc, cflags, source, incs) if use_cache else None
        cached = cache / f"{key}.o" if key else None
        if cached is not None and cached.is_file():
            try:
                shutil.copyfile(cached, obj)
                os.utime(cached)
                return obj, True
            except OSError:
                pass
        cmd = [cc, *cflags, *prefix_maps, *(f"-I{d}" for d in incs), "-c", str(source),
               "-o", str(obj)]
        _run(cmd, source.parent, f"{what}: compiling {source.name}")
        if cached is not None:
            _store(obj, cached)
        return obj, False

    names = [Path(s).stem for s in sources]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ToolchainError(f"{what}: two sources would make the same object {dup[0]}.o")
    workers = max(1, min(len(sources), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, sources))
    for _, hit in results:
        stats.cached += int(hit)
        stats.compiled += int(not hit)
    if output.exists():
        output.unlink()
    cmd = [cc, *cflags, *(str(o) for o, _ in results), *link_flags, "-o", str(output)]
    _run(cmd, output.parent, what)
    if use_cache and stats.compiled:
        _prune(cache)
    return cmd, stats
