"""stamen: OpenNebula edge toolkit for Flower federated learning.

The package wraps the allocation-free Rust core of stamen:

* :func:`report` and :mod:`stamen.flower` tell the local ``stamen run`` agent what
  the Flower client is doing (``ClientApp(mods=[stamen.flower.status_mod])``);
* :func:`parse_context` and :class:`EdgeConfig` read OpenNebula context files;
* :class:`Backoff` is the agent's retry schedule as an iterator of delays;
* :func:`evaluate` / :class:`Expression` evaluate OneFlow elasticity expressions
  exactly as OneFlow does (value and trace); :func:`new_cardinality` and
  :func:`lint_policy` check OneFlow policies;
* :class:`ClientStatus` is the numeric ``FL_CLIENT_STATUS`` published to OneGate,
  and :func:`encode_onegate_update` writes OneGate ``PUT /vm`` bodies.

Every error is a subclass of :class:`StamenError`.
"""

from __future__ import annotations

from ._context import LossyContextWarning, parse_context, read_context
from ._report import DEFAULT_STATUS_SOCKET, STATUS_SOCKET_ENV, report, status_socket_path
from ._stamen import (
    Backoff,
    ConfigError,
    ContextError,
    ContextIssue,
    EdgeConfig,
    EvalError,
    Evaluation,
    Expression,
    ExprParseError,
    IpcError,
    LintFinding,
    PolicyError,
    StamenError,
    __version__,
    decode_status,
    encode_onegate_erase,
    encode_onegate_status,
    encode_onegate_update,
    encode_status,
    evaluate,
    lint_policy,
    new_cardinality,
    ruby_float_to_s,
    ruby_to_f,
)
from ._types import ClientStatus

__all__ = [
    "DEFAULT_STATUS_SOCKET",
    "STATUS_SOCKET_ENV",
    "Backoff",
    "ClientStatus",
    "ConfigError",
    "ContextError",
    "ContextIssue",
    "EdgeConfig",
    "EvalError",
    "Evaluation",
    "Expression",
    "ExprParseError",
    "IpcError",
    "LintFinding",
    "LossyContextWarning",
    "PolicyError",
    "StamenError",
    "__version__",
    "decode_status",
    "encode_onegate_erase",
    "encode_onegate_status",
    "encode_onegate_update",
    "encode_status",
    "evaluate",
    "lint_policy",
    "new_cardinality",
    "parse_context",
    "read_context",
    "report",
    "ruby_float_to_s",
    "ruby_to_f",
    "status_socket_path",
]
