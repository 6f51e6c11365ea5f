"""A private ``redis-server`` on loopback, for checks run against a real Redis.

``--tutorial-redis=server`` makes the redis fixtures talk to a real server instead of
fakeredis: one server per run, started from the ``redis-server`` on PATH (Debian:
``apt-get install redis-server``) on a free 127.0.0.1 port, with persistence off and its
files in a temporary folder, flushed before every check and stopped when the run ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_tutorial.errors import usage_error

if TYPE_CHECKING:
    import redis

START_TIMEOUT_S = 10.0


class RedisProcess:
    """A running ``redis-server`` bound to 127.0.0.1."""

    def __init__(self, executable: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tutorial-redis-"))
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--protected-mode",
                "yes",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.control = self.client()
        """The harness's own client: flushing, expiring, probing."""
        self._wait_until_ready()

    def client(self, db: int = 0) -> redis.Redis:
        """A plain client of this server's database ``db`` (the caller closes it)."""
        import redis  # here: the fixture module imports this one in runs without Redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=db)

    def _wait_until_ready(self) -> None:
        import redis

        deadline = time.monotonic() + START_TIMEOUT_S
        probe = self.control
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = (
                    self.process.stdout.read().decode(errors="replace")
                    if self.process.stdout
                    else ""
                )
                self.stop()
                raise RuntimeError(f"redis-server exited at start: {output[-500:]}")
            try:
                if probe.ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT_S:g} s")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        self.control.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def find_redis_server() -> str:
    """The ``redis-server`` executable, or a usage error that says how to install it."""
    found = shutil.which("redis-server")
    if found is None:
        raise usage_error(
            "--tutorial-redis=server needs redis-server, which is not on PATH",
            fix="install it (Debian/Ubuntu: apt-get install redis-server) or use "
            "--tutorial-redis=fake",
        )
    return found
