"""`report()`: tell the local stamen agent what this process is doing.

The agent (`stamen run`) listens on a Unix datagram socket whose path it exports
to the SuperNode it supervises as ``STAMEN_STATUS_SOCKET``; Flower passes the
environment on to every ``flwr-clientapp`` process. One datagram per report, in
the v1 wire format encoded by the Rust core (``stamen/1 status=2 round=3``).

Reporting is best effort by design: a missing agent must never break training.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Optional

from ._stamen import encode_status
from ._types import ClientStatus

__all__ = ["DEFAULT_STATUS_SOCKET", "STATUS_SOCKET_ENV", "report", "status_socket_path"]

#: Environment variable holding the agent's socket path.
STATUS_SOCKET_ENV = "STAMEN_STATUS_SOCKET"
#: Socket path used when ``STAMEN_STATUS_SOCKET`` is unset or empty.
DEFAULT_STATUS_SOCKET = "/run/stamen/status.sock"

_log = logging.getLogger("stamen")
_warned = False
_warned_lock = threading.Lock()


def status_socket_path() -> str:
    """Return the agent's socket path: ``$STAMEN_STATUS_SOCKET`` or the default."""
    return os.environ.get(STATUS_SOCKET_ENV) or DEFAULT_STATUS_SOCKET


def _warn_once(path: str, err: "OSError | ValueError") -> None:
    global _warned
    with _warned_lock:
        if _warned:
            return
        _warned = True
    _log.warning(
        "cannot reach the stamen agent at %s (%s); "
        "status reports are skipped (warning shown once per process)",
        path,
        getattr(err, "strerror", None) or err,
    )


def report(status: "ClientStatus | int", round: Optional[int] = None) -> bool:  # noqa: A002
    """Send one status datagram to the agent.

    ``status`` is a :class:`ClientStatus` (or its value 1, 2, 3); ``round`` is the
    FL round, an integer ``>= 0``, or ``None`` to leave the agent's round as is.

    Returns ``True`` when the agent's socket accepted the datagram, ``False`` when
    the agent is absent, busy or unreachable: then a warning is logged once per
    process and nothing is raised. Invalid arguments are programming errors and
    raise ``ValueError``/``TypeError`` (before anything is sent).
    """
    code = int(ClientStatus(status))
    if round is not None and (
        not isinstance(round, int) or isinstance(round, bool) or not 0 <= round < 2**64
    ):
        raise ValueError(f"round must be an integer in [0, 2**64), got {round!r}")
    datagram = encode_status(code, round)
    path = status_socket_path()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            # Never block the training loop on a slow or stuck agent.
            sock.setblocking(False)
            sock.sendto(datagram, path)
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
        _warn_once(path, err)
        return False
    return True
