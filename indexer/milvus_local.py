"""A local Milvus server from the ``milvus-lite`` package (the Milvus C++ core), for development and the tests.

``python -m indexer.milvus_local --port 19530 --data milvus-data`` serves ``milvus://127.0.0.1:19530/NAME``
until Ctrl+C. In production use Milvus Standalone or Distributed (docs/scale.md); the client code is the same.

Pinned to milvus-lite 2.5.1: the 3.x series is a rewrite without the ``whitespace`` tokenizer whose BM25
scores are negative. It imports ``pkg_resources``, hence ``setuptools<81``.

>>> server = LocalMilvus.start("/tmp/milvus-data")   # doctest: +SKIP
>>> server.location("korag"), server.pid              # doctest: +SKIP
('milvus://127.0.0.1:40123/korag', 12345)
>>> server.stop()                                     # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DB_FILE", "LocalMilvus", "free_port", "main"]

DB_FILE = "milvus.db"
_START_TIMEOUT = 30.0  # seconds for the server to accept connections (under 1 s measured)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary() -> Path:
    try:
        with warnings.catch_warnings():  # milvus-lite 2.5.1 imports the deprecated pkg_resources (setuptools<81)
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            from milvus_lite.server import BIN_PATH
    except ImportError as exc:
        raise RuntimeError(f'milvus-lite is not installed ({exc}); pip install -e ".[milvus]"') from None
    return Path(BIN_PATH).absolute()


@dataclass
class LocalMilvus:
    """A running milvus-lite server process on 127.0.0.1 (data under ``data_dir``)."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def location(self, name: str) -> str:
        """The ``milvus://`` location of index ``name`` on this server."""
        return f"milvus://127.0.0.1:{self.port}/{name}"

    @classmethod
    def start(cls, data_dir: str | os.PathLike[str], port: int | None = None, log_file: str | None = None) -> LocalMilvus:
        """Start a server storing its data in ``data_dir`` (created) on ``port`` (default: a free one); returns
        once it accepts connections, or raises :class:`RuntimeError` saying why not."""
        d = Path(data_dir).absolute()
        d.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        bin_dir = _binary()
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = f"{bin_dir}:{env.get('LD_LIBRARY_PATH', '')}"
        env.setdefault("GLOG_log_dir", str(d))  # the server's own log files, which otherwise pile up in /tmp
        out = open(log_file or d / "milvus.log", "ab")  # the child process keeps its own copy
        try:
            proc = subprocess.Popen([str(bin_dir / "milvus"), str(d / DB_FILE), f"127.0.0.1:{port}", "ERROR"],
                                    cwd=d, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            out.close()
        server = cls(d, port, proc)
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"milvus-lite exited with code {proc.returncode} at start; see {d / 'milvus.log'} "
                                   f"(is {d / DB_FILE} used by another server?)")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return server
            except OSError:
                time.sleep(0.05)
        server.stop()
        raise RuntimeError(f"milvus-lite did not accept connections on 127.0.0.1:{port} within {_START_TIMEOUT:g} s; "
                           f"see {d / 'milvus.log'}")

    def stop(self, kill: bool = False) -> None:
        """Stop the server by its PID: SIGTERM (SIGKILL with ``kill``, or when it does not exit within 10 s)."""
        if self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer.milvus_local",
                                     description="Serve a local Milvus (milvus-lite) on 127.0.0.1 until Ctrl+C.")
    parser.add_argument("--port", type=int, default=19530, help="port (default 19530)")
    parser.add_argument("--data", default="milvus-data", help="folder for the server's data (default: milvus-data)")
    args = parser.parse_args(argv)
    try:
        server = LocalMilvus.start(args.data, args.port)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill PID` of this process stops the server too, not only Ctrl+C
    try:
        print(f"Milvus (milvus-lite) on 127.0.0.1:{server.port}, pid {server.pid}, data in {server.data_dir}; "
              f"index with: python -m indexer corpus --out {server.location('korag')}", flush=True)
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
