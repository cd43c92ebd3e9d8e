"""stamen: OpenNebula edge toolkit for Flower federated learning.

The package wraps the allocation-free Rust core of stamen:

* :func:`report` and :mod:`stamen.flower` tell the local ``stamen run`` agent what
  the Flower client is doing (``ClientApp(mods=[stamen.flower.status_mod])``);
* :class:`Backoff` is the agent's retry schedule as an iterator of delays;
* :class:`ClientStatus` is the numeric ``FL_CLIENT_STATUS`` published to OneGate.

Every error is a subclass of :class:`StamenError`.
"""

from __future__ import annotations

from ._report import DEFAULT_STATUS_SOCKET, STATUS_SOCKET_ENV, report, status_socket_path
from ._stamen import (
    Backoff,
    ConfigError,
    ContextError,
    EvalError,
    ExprParseError,
    PolicyError,
    StamenError,
    __version__,
    encode_status,
)
from ._types import ClientStatus

__all__ = [
    "DEFAULT_STATUS_SOCKET",
    "STATUS_SOCKET_ENV",
    "Backoff",
    "ClientStatus",
    "ConfigError",
    "ContextError",
    "EvalError",
    "ExprParseError",
    "PolicyError",
    "StamenError",
    "__version__",
    "encode_status",
    "report",
    "status_socket_path",
]
