"""The object cache of :func:`edgekit.emulator.compile.compile_and_link` (host gcc)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from edgekit.emulator.compile import OBJECT_CACHE_ENV, compile_and_link, include_closure
from edgekit.errors import ToolchainError

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")


def _sources(root):
    src = root / "src"
    src.mkdir(parents=True)
    (src / "scale.h").write_text('#include "inner.h"\nint scale(int x);\n')
    (src / "inner.h").write_text("#define FACTOR 3\n")
    (src / "other.h").write_text("#define UNUSED 1\n")
    (src / "scale.c").write_text('#include "scale.h"\nint scale(int x) { return FACTOR * x; }\n')
    (src / "main.c").write_text('#include <stdio.h>\n#include "scale.h"\n'
                                'int main(void) { printf("%d\\n", scale(14)); return 0; }\n')
    return src


def _build(src, out, flags=("-O2", "-Wall", "-Werror")):
    exe = out / "prog"
    _, stats = compile_and_link("gcc", list(flags), [src / "main.c", src / "scale.c"], [src],
                                [], exe, out / "obj", "test build")
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout, stats


def test_objects_come_from_the_cache_until_a_header_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(OBJECT_CACHE_ENV, raising=False)
    src = _sources(tmp_path / "a")
    assert {p.name for p in include_closure(src / "scale.c", [src])} == {"scale.h", "inner.h"}
    out, stats = _build(src, tmp_path / "b1")
    assert out == "42\n" and (stats.compiled, stats.cached) == (2, 0)
    # another folder with the same files: both objects reused, same program
    src2 = _sources(tmp_path / "c")
    out, stats = _build(src2, tmp_path / "b2")
    assert out == "42\n" and (stats.compiled, stats.cached) == (0, 2)
    # a header no source includes changes nothing
    (src2 / "other.h").write_text("#define UNUSED 2\n")
    assert _build(src2, tmp_path / "b3")[1].cached == 2
    # a header included through another one: both users of it are compiled again
    (src2 / "inner.h").write_text("#define FACTOR 5\n")
    out, stats = _build(src2, tmp_path / "b4")
    assert out == "70\n" and (stats.compiled, stats.cached) == (2, 0)
    # other flags, other objects
    assert _build(src2, tmp_path / "b5", ("-O1",))[1].compiled == 2


def test_cache_off_and_compile_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(OBJECT_CACHE_ENV, "0")
    src = _sources(tmp_path / "a")
    _build(src, tmp_path / "b1")
    assert _build(src, tmp_path / "b2")[1].compiled == 2
    assert not (tmp_path / "cache" / "objects").exists()
    monkeypatch.delenv(OBJECT_CACHE_ENV)
    (src / "scale.c").write_text('#include "scale.h"\nint scale(int x) { return FACTOR * y; }\n')
    with pytest.raises(ToolchainError,
                       match=r"test build: compiling scale\.c failed(.|\n)*y. undeclared"):
        _build(src, tmp_path / "b3")
    # main.c may have been cached, the failed scale.c never is
    assert len(list((tmp_path / "cache" / "objects").glob("*.o"))) <= 1
