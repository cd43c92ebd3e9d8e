"""Test helpers shared by the test modules (imported as `helpers`)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS = REPO_ROOT / "tests" / "vectors"

# The v1 wire format, written out independently of the encoder under test.
_DATAGRAM = re.compile(rb"stamen/1 status=([123])(?: round=(0|[1-9][0-9]*))?\n?")


@dataclass(frozen=True)
class Report:
    """One decoded status datagram."""

    status: int
    round: Optional[int]


def decode(datagram: bytes) -> Report:
    """Decode a v1 datagram or fail the test."""
    assert len(datagram) <= 128, f"datagram longer than 128 bytes: {datagram!r}"
    m = _DATAGRAM.fullmatch(datagram)
    assert m is not None, f"not a v1 status datagram: {datagram!r}"
    rnd = m.group(2)
    return Report(int(m.group(1)), None if rnd is None else int(rnd))


class FakeAgent:
    """A bound Unix datagram socket standing in for `stamen run`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(5.0)

    def receive(self, count: int) -> list[Report]:
        """Receive exactly `count` datagrams (5 s bound each)."""
        return [decode(self.sock.recv(256)) for _ in range(count)]

    def pending(self) -> list[Report]:
        """Every datagram already queued, without waiting."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(decode(self.sock.recv(256)))
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(5.0)
        return out

    def close(self) -> None:
        self.sock.close()
