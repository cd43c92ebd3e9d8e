"""Shared fixtures: a fake agent listening on a real Unix datagram socket."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# flwr 1.42 imports typer, which imports names that click 8.5 deprecated; the
# warning fires once, at import time, inside third-party code. Import flwr here
# with exactly that warning silenced so `pytest -W error` still turns every other
# warning (ours included) into an error.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"'click\.utils\.\w+' is deprecated",
        category=DeprecationWarning,
    )
    try:
        import flwr.app  # noqa: F401
        import flwr.clientapp  # noqa: F401
    except ImportError:  # pragma: no cover - flwr is optional for the core tests
        pass

from helpers import FakeAgent


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temp dir: Unix socket paths are limited to ~107 bytes."""
    d = tempfile.mkdtemp(prefix="stamen-")
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def agent(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAgent]:
    """A fake agent; STAMEN_STATUS_SOCKET points at it for the test."""
    path = str(short_tmp / "status.sock")
    fake = FakeAgent(path)
    monkeypatch.setenv("STAMEN_STATUS_SOCKET", path)
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def no_agent(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """STAMEN_STATUS_SOCKET points at a path where nothing listens."""
    path = str(short_tmp / "absent.sock")
    monkeypatch.setenv("STAMEN_STATUS_SOCKET", path)
    yield path
    assert not os.path.exists(path)


@pytest.fixture(autouse=True)
def _fresh_warn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees `report` as in a new process (warn-once state cleared)."""
    import stamen._report as r

    monkeypatch.setattr(r, "_warned", False)
