"""A Redis for the sandbox: a real ``redis-server`` child process, or an in-process fakeredis TCP server."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Literal, Protocol

import redis
import structlog

from sandbox.serve import free_port

log = structlog.get_logger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
RedisKind = Literal["redis-server", "fakeredis"]


class LocalRedis(Protocol):
    """A Redis the sandbox started and must stop."""

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        ...

    @property
    def kind(self) -> RedisKind:
        """What serves it."""
        ...

    @property
    def persistent(self) -> bool:
        """Whether its data is written to disk."""
        ...

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        ...


class RedisServerProcess:
    """``redis-server`` on a free 127.0.0.1 port, its append-only file and log in ``directory``."""

    kind: RedisKind = "redis-server"
    persistent = True

    def __init__(self, executable: str, directory: Path, port: int | None = None) -> None:
        self.executable = executable
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_file(self) -> Path:
        """Where the server writes its log."""
        return self.directory / "redis.log"

    def start(self) -> RedisServerProcess:
        """Start the server and wait until it answers PING; RuntimeError with its log's tail otherwise."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            self.executable,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory.resolve()),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.log_file.resolve()),
        ]  # fmt: skip
        # Its own process group: a Ctrl-C in the terminal reaches only us, and we stop it in order.
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers_ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail}")
            time.sleep(0.02)
        log.info("sandbox.redis_started", kind=self.kind, port=self.port, directory=str(self.directory))
        return self

    def stop(self) -> None:
        """SIGTERM (redis-server flushes its AOF and exits), SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None


class _ErrorsAsReplies:
    """A fakeredis connection whose error replies come back as values instead of being raised.

    fakeredis' TCP handler (2.40) closes the connection on any raised error, so an ordinary error reply
    such as NOSCRIPT (redis-py's EVALSHA, answered by a SCRIPT LOAD on the same connection) would cut
    the client off; returned, the handler encodes it as a normal ``-ERR`` reply and keeps serving.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def read_response(self, **kwargs: Any) -> Any:
        try:
            return self._connection.read_response(**kwargs)
        except (redis.ResponseError, redis.AuthenticationError) as exc:
            return exc


def _tcp_fake_server(port: int) -> Any:
    from fakeredis import TcpFakeServer  # imported here: only needed without redis-server
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

    class Handler(TCPFakeRequestHandler):
        def setup(self) -> None:
            super().setup()
            if not isinstance(self.current_client, _ErrorsAsReplies):
                self.current_client = _ErrorsAsReplies(self.current_client)  # type: ignore[assignment]

    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.RequestHandlerClass = Handler
    return server


class FakeRedisServer:
    """fakeredis behind a real TCP socket on 127.0.0.1, served from a thread; keeps nothing on disk."""

    kind: RedisKind = "fakeredis"
    persistent = False

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server = _tcp_fake_server(self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakeredis", daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> FakeRedisServer:
        """Serve in a background thread and wait until it answers PING."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers_ping(self.port):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the fakeredis server did not answer on port {self.port}")
            time.sleep(0.02)
        log.warning("sandbox.redis_started", kind=self.kind, port=self.port, persistent=False)
        return self

    def stop(self) -> None:
        """Stop serving, end every connection's thread and close the socket."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def start_local_redis(directory: Path, executable: str | None) -> LocalRedis:
    """``redis-server`` (when ``executable`` is given) with a fresh dataset in ``directory``; else fakeredis.

    The dataset starts empty on every run: the emulated Telegram lives in memory, so jobs, sessions and
    seen update ids left from an earlier run would point at chats and messages that no longer exist.
    """
    if executable is None:
        return FakeRedisServer().start()
    for leftover in ("appendonlydir", "dump.rdb"):
        path = directory / leftover
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return RedisServerProcess(executable, directory).start()


def _answers_ping(port: int) -> bool:
    try:
        with redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False
