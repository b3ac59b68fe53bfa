"""Tests for edgekit.data.fetch against a local HTTP server (no internet needed)."""

from __future__ import annotations

import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from edgekit.data import fetch_fsdd, read_wav, resolve_data_root
from edgekit.errors import DataError

WAV_NAMES = ["0_alice_0.wav", "0_alice_7.wav", "1_bob_0.wav", "1_bob_9.wav", "9_carol_3.wav"]


def build_zip(tmp_path: Path, wav_writer, names=WAV_NAMES, prefix="free-spoken-digit-dataset-master/") -> bytes:
    src = tmp_path / "zipsrc"
    src.mkdir(exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(prefix + "README.md", "Free Spoken Digit Dataset")
        zf.writestr(prefix + "recordings/", "")  # directory entry
        for i, name in enumerate(names):
            wav = wav_writer(src / name, np.full(200, 0.1 * (i + 1)))
            zf.write(wav, prefix + "recordings/" + name)
        zf.write(src / names[0], prefix + "acoustic/other.wav")  # not under recordings/
    return buf.getvalue()


class Server:
    """A tiny HTTP server on 127.0.0.1 serving ``routes`` (path -> bytes)."""

    def __init__(self):
        self.routes: dict[str, bytes] = {}
        self.lie_length: dict[str, int] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                server.requests.append(self.path)
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(server.lie_length.get(self.path, len(body))))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


def test_fetch_extracts_only_recordings(tmp_path, wav_writer, server):
    server.routes["/fsdd.zip"] = build_zip(tmp_path, wav_writer)
    dest = tmp_path / "data"
    out = fetch_fsdd(dest, url=server.url("/fsdd.zip"), timeout=10)
    assert out == dest / "fsdd" / "recordings"
    assert sorted(p.name for p in out.iterdir()) == sorted(WAV_NAMES)
    assert [p.name for p in (dest / "fsdd").iterdir()] == ["recordings"]  # no temp leftovers
    samples, rate = read_wav(out / "1_bob_0.wav")
    assert rate == 8000 and samples.shape == (200,)
    np.testing.assert_allclose(samples, 0.3, atol=1e-4)
    assert resolve_data_root("fsdd", dest) == out
    # Already present: no second download unless forced.
    assert fetch_fsdd(dest, url=server.url("/fsdd.zip")) == out
    assert server.requests == ["/fsdd.zip"]


def test_force_replaces_existing_recordings(tmp_path, wav_writer, server):
    dest = tmp_path / "data"
    old = dest / "fsdd" / "recordings"
    old.mkdir(parents=True)
    wav_writer(old / "5_old_1.wav", np.zeros(10))
    server.routes["/fsdd.zip"] = build_zip(tmp_path, wav_writer)
    out = fetch_fsdd(dest, url=server.url("/fsdd.zip"), force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(WAV_NAMES)
    assert [p.name for p in (dest / "fsdd").iterdir()] == ["recordings"]


def test_default_destination_is_cache(tmp_path, wav_writer, server, monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    server.routes["/a.zip"] = build_zip(tmp_path, wav_writer, prefix="")
    out = fetch_fsdd(url=server.url("/a.zip"))
    assert out == tmp_path / "cache" / "fsdd" / "recordings"
    assert len(list(out.glob("*.wav"))) == len(WAV_NAMES)


def corrupt_member(data: bytes) -> bytes:
    """Flip a byte inside the first stored WAV's data, so its CRC check fails."""
    raw = bytearray(data)
    at = raw.index(b"data", raw.index(b"RIFF")) + 20
    raw[at] ^= 0xFF
    return bytes(raw)


@pytest.mark.parametrize(
    "case, message",
    [
        ("404", "HTTP 404"),
        ("garbage", "corrupt"),
        ("bad_crc", "corrupt"),
        ("no_recordings", r"contains no recordings/\*\.wav"),
        ("truncated", "download of .* (is truncated|failed)"),
        ("refused", "download of .* failed"),
    ],
)
def test_failures_raise_and_leave_nothing(tmp_path, wav_writer, server, case, message):
    good = build_zip(tmp_path, wav_writer)
    if case == "garbage":
        server.routes["/f.zip"] = b"PK\x03\x04 this is not really a zip file" * 10
    elif case == "bad_crc":
        server.routes["/f.zip"] = corrupt_member(good)
    elif case == "no_recordings":
        server.routes["/f.zip"] = build_zip(tmp_path, wav_writer, prefix="x/").replace(b"/recordings/", b"/recordingz/")
    elif case == "truncated":
        server.routes["/f.zip"] = good[: len(good) // 2]
        server.lie_length["/f.zip"] = len(good)
    url = server.url("/f.zip")
    if case == "refused":
        server.close()  # nothing listens on the port any more
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=message):
        fetch_fsdd(dest, url=url, timeout=10)
    assert not dest.exists()  # the folders fetch created are removed again


def test_failed_forced_refetch_keeps_old_recordings(tmp_path, wav_writer, server):
    dest = tmp_path / "data"
    old = dest / "fsdd" / "recordings"
    old.mkdir(parents=True)
    wav_writer(old / "5_old_1.wav", np.zeros(10))
    with pytest.raises(DataError, match="HTTP 404"):
        fetch_fsdd(dest, url=server.url("/missing.zip"), force=True)
    assert [p.name for p in old.iterdir()] == ["5_old_1.wav"]
    assert [p.name for p in (dest / "fsdd").iterdir()] == ["recordings"]
