"""Pure-Python types of the public API."""

from __future__ import annotations

import enum

__all__ = ["ClientStatus"]


class ClientStatus(enum.IntEnum):
    """FL client status as published in ``FL_CLIENT_STATUS`` (numeric for OneFlow)."""

    #: Connected, not training.
    IDLE = 1
    #: Running a train message.
    TRAINING = 2
    #: Not connected to the SuperLink (or the agent stopped).
    DISCONNECTED = 3
