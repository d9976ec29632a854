"""A minimal client for QMP, the QEMU Machine Protocol.

QMP is how programs talk to a running QEMU: newline-separated JSON objects
over a socket. A session goes like this::

    QEMU   -> {"QMP": {"version": ..., "capabilities": [...]}}     greeting
    client -> {"execute": "qmp_capabilities"}                      leave negotiation mode
    QEMU   -> {"return": {}}
    client -> {"execute": "human-monitor-command",
               "arguments": {"command-line": "info mem"}, "id": 2}
    QEMU   -> {"return": "0000000000000000-...\\r\\n", "id": 2}

QEMU may also send asynchronous events (``{"event": "STOP", ...}``) at any
time; this client sets them aside in :attr:`QMPClient.events` while waiting
for the answer to its own command.

``human-monitor-command`` runs a command of the human monitor (HMP), the
interactive ``(qemu)`` prompt, and returns its text output. That gives tests
``info mem``, ``info tlb``, ``info registers`` and friends without a terminal.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from pathlib import Path
from typing import Any


class QMPError(RuntimeError):
    """QEMU answered with an error, or the connection broke."""


class QMPClient:
    """Blocking QMP client for a unix socket (``-qmp unix:PATH,server=on,wait=off``).

    Use it as a context manager::

        with QMPClient(run_dir / "qmp.sock") as qmp:
            print(qmp.hmp("info registers"))
            qmp.quit()
    """

    def __init__(self, path: str | Path, timeout: float = 10.0):
        self.path = str(path)
        self.timeout = timeout  #: seconds to wait for any single reply
        self.events: list[dict[str, Any]] = []  #: asynchronous events received so far
        self.greeting: dict[str, Any] | None = None
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._ids = itertools.count(1)

    # -- connection -----------------------------------------------------

    def connect(self, wait: float = 10.0) -> "QMPClient":
        """Connect, read the greeting and enable commands.

        QEMU creates the socket file shortly after it starts, so keep retrying
        for up to ``wait`` seconds while it does not exist (or does not accept
        connections yet).
        """
        deadline = time.monotonic() + wait
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() >= deadline:
                    raise QMPError(f"QMP socket {self.path} not available after {wait:.1f} s") from None
                time.sleep(0.05)
        self._sock = sock
        self.greeting = self._read_message()
        if "QMP" not in self.greeting:
            raise QMPError(f"unexpected QMP greeting: {self.greeting!r}")
        self.execute("qmp_capabilities")
        return self

    def close(self) -> None:
        """Close the socket (QEMU keeps running)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "QMPClient":
        if self._sock is None:
            self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- wire format ----------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        if self._sock is None:
            raise QMPError("not connected")
        self._sock.sendall(json.dumps(message).encode("utf-8") + b"\n")

    def _read_message(self) -> dict[str, Any]:
        """Read one JSON object (one line) from QEMU."""
        if self._sock is None:
            raise QMPError("not connected")
        while b"\n" not in self._buffer:
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                raise QMPError(f"no reply from QEMU within {self.timeout:.1f} s") from None
            if not chunk:
                raise QMPError("QEMU closed the QMP connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    # -- commands -------------------------------------------------------

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run a QMP command and return its ``"return"`` value.

        Raises :class:`QMPError` if QEMU reports an error for the command.
        """
        request_id = next(self._ids)
        request: dict[str, Any] = {"execute": command, "id": request_id}
        if arguments:
            request["arguments"] = arguments
        self._send(request)
        while True:
            reply = self._read_message()
            if "event" in reply:
                self.events.append(reply)
                continue
            if reply.get("id") != request_id:
                continue  # not ours (cannot normally happen: one command at a time)
            if "error" in reply:
                error = reply["error"]
                raise QMPError(f"{command}: {error.get('class')}: {error.get('desc')}")
            return reply.get("return")

    def events_until_closed(self) -> list[dict[str, Any]]:
        """Wait, without a time limit, until QEMU closes the connection (it
        exits); return every event it sent, e.g. ``SHUTDOWN`` with its reason."""
        if self._sock is None:
            raise QMPError("not connected")
        self._sock.settimeout(None)
        try:
            while True:
                message = self._read_message()
                if "event" in message:
                    self.events.append(message)
        except (QMPError, OSError, ValueError):
            pass  # closed: QEMU has gone
        return self.events

    def hmp(self, command_line: str) -> str:
        """Run a human-monitor command (``"info mem"``) and return its text output."""
        return self.execute("human-monitor-command", {"command-line": command_line})

    def quit(self) -> None:
        """Ask QEMU to exit.

        QEMU may close the connection before its reply arrives, which is fine.
        """
        try:
            self.execute("quit")
        except (QMPError, OSError):
            pass
        finally:
            self.close()
