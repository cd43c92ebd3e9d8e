"""Flower integration: a client mod that reports training rounds to stamen.

Use it in a ClientApp (Flower >= 1.42)::

    from flwr.clientapp import ClientApp
    from stamen.flower import status_mod

    app = ClientApp(mods=[status_mod])

For every ``train`` message the mod reports ``TRAINING`` with the server round
before the app runs and ``IDLE`` after it returns *or raises* (the exception is
re-raised unchanged). Other messages (``evaluate``, ``query``) pass through
untouched. Flower runs each message in a new ``flwr-clientapp`` process, so the
mod keeps no state: each call reaches the agent on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ._report import report
from ._types import ClientStatus

if TYPE_CHECKING:  # flwr is only needed by the caller, never imported at runtime here.
    from flwr.app import Context, Message
    from flwr.clientapp.typing import ClientAppCallable

__all__ = ["message_round", "status_mod"]

_TRAIN = "train"
_ROUND_LIMIT = 2**64  # the wire format carries a u64


def _valid_round(value: int) -> Optional[int]:
    return value if 0 <= value < _ROUND_LIMIT else None


def message_round(msg: "Message") -> Optional[int]:
    """The FL round a message belongs to, or ``None`` when it carries none.

    New-style strategies put it in ``content["config"]["server-round"]``; legacy
    ones in ``metadata.group_id`` (a decimal string). Anything else (missing,
    negative, not an integer, 2**64 or more) gives ``None``.
    """
    if msg.has_content():
        config = msg.content.get("config")
        if config is not None and hasattr(config, "get"):
            value = config.get("server-round")
            if isinstance(value, int) and not isinstance(value, bool) and _valid_round(value) is not None:
                return value
    group_id = msg.metadata.group_id
    if group_id.isdigit() and group_id.isascii():
        return _valid_round(int(group_id))
    return None


def status_mod(msg: "Message", context: "Context", call_next: "ClientAppCallable") -> "Message":
    """Flower client mod: report TRAINING/IDLE around every train message."""
    category = msg.metadata.message_type.partition(".")[0]
    if category != _TRAIN:
        return call_next(msg, context)
    rnd = message_round(msg)
    report(ClientStatus.TRAINING, rnd)
    try:
        return call_next(msg, context)
    finally:
        report(ClientStatus.IDLE, rnd)
