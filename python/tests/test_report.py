"""stamen.report(): one datagram per call, best effort, never raising on I/O."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest

import stamen
from stamen import ClientStatus, report

from helpers import FakeAgent, Report


def test_report_sends_one_v1_datagram(agent: FakeAgent) -> None:
    assert report(ClientStatus.TRAINING, 3) is True
    assert report(ClientStatus.IDLE) is True
    assert report(3, round=0) is True
    assert agent.receive(3) == [Report(2, 3), Report(1, None), Report(3, 0)]


def test_largest_round_fits_the_datagram(agent: FakeAgent) -> None:
    assert report(ClientStatus.TRAINING, 2**64 - 1)
    assert agent.receive(1) == [Report(2, 2**64 - 1)]


@pytest.mark.parametrize("status", [0, 4, -1, 256])
def test_invalid_status_is_a_value_error_and_sends_nothing(agent: FakeAgent, status: int) -> None:
    with pytest.raises(ValueError):
        report(status)
    assert agent.pending() == []


@pytest.mark.parametrize("rnd", [-1, 2**64, 1.0, "3", True])
def test_invalid_round_is_a_value_error_and_sends_nothing(agent: FakeAgent, rnd: object) -> None:
    with pytest.raises(ValueError, match="round must be"):
        report(ClientStatus.IDLE, rnd)  # type: ignore[arg-type]
    assert agent.pending() == []


def test_socket_path_from_env_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STAMEN_STATUS_SOCKET", raising=False)
    assert stamen.status_socket_path() == "/run/stamen/status.sock" == stamen.DEFAULT_STATUS_SOCKET
    monkeypatch.setenv("STAMEN_STATUS_SOCKET", "")
    assert stamen.status_socket_path() == stamen.DEFAULT_STATUS_SOCKET
    monkeypatch.setenv("STAMEN_STATUS_SOCKET", "/tmp/x.sock")
    assert stamen.status_socket_path() == "/tmp/x.sock"


def test_absent_agent_returns_false_and_warns_once(no_agent: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="stamen")
    assert report(ClientStatus.TRAINING, 1) is False
    assert report(ClientStatus.IDLE, 1) is False
    records = [r for r in caplog.records if r.name == "stamen"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert no_agent in records[0].getMessage()


def test_agent_appearing_later_is_reached(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(short_tmp / "late.sock")
    monkeypatch.setenv("STAMEN_STATUS_SOCKET", path)
    assert report(ClientStatus.IDLE) is False
    late = FakeAgent(path)
    try:
        assert report(ClientStatus.TRAINING, 4) is True
        assert late.receive(1) == [Report(2, 4)]
    finally:
        late.close()


def test_path_that_is_not_a_socket(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regular = short_tmp / "file"
    regular.write_text("not a socket")
    monkeypatch.setenv("STAMEN_STATUS_SOCKET", str(regular))
    assert report(ClientStatus.IDLE) is False


@pytest.mark.parametrize("path", ["/tmp/" + "x" * 200 + ".sock", "relative-missing.sock"])
def test_unusable_paths_return_false(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    monkeypatch.setenv("STAMEN_STATUS_SOCKET", path)
    assert report(ClientStatus.IDLE) is False


def test_nul_in_the_path_returns_false(monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment cannot hold a NUL; a caller-patched path can.
    monkeypatch.setattr("stamen._report.status_socket_path", lambda: "/tmp/nul\x00.sock")
    assert report(ClientStatus.IDLE) is False


def test_stream_socket_instead_of_datagram(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(short_tmp / "stream.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(path)
        s.listen(1)
        monkeypatch.setenv("STAMEN_STATUS_SOCKET", path)
        assert report(ClientStatus.IDLE) is False


def test_a_stuck_agent_never_blocks_the_caller(agent: FakeAgent) -> None:
    # The fake agent never reads: its queue fills, then report() must return
    # False at once (non-blocking send) instead of hanging the training loop.
    start = time.monotonic()
    results = [report(ClientStatus.TRAINING, i) for i in range(5000)]
    assert time.monotonic() - start < 30  # generous; a blocking send would hang forever
    assert results[0] is True
    assert results[-1] is False
    first_false = results.index(False)
    assert len(agent.pending()) == first_false


def test_reports_from_many_threads_all_arrive(agent: FakeAgent) -> None:
    received: list[Report] = []
    reader = threading.Thread(target=lambda: received.extend(agent.receive(40)))
    reader.start()
    failures: list[int] = []

    def worker(n: int) -> None:
        for r in range(10):
            # Unix datagram queues are short (net.unix.max_dgram_qlen, often 10):
            # a full queue is a False return, so retry briefly like a caller could.
            for _ in range(1000):
                if report(ClientStatus.TRAINING, n * 100 + r):
                    break
                time.sleep(0.001)
            else:
                failures.append(n * 100 + r)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    reader.join(30)
    assert failures == []
    assert sorted(r.round for r in received if r.round is not None) == sorted(
        n * 100 + r for n in range(4) for r in range(10)
    )


def test_encode_status_is_the_v1_wire_format() -> None:
    assert stamen.encode_status(1) == b"stamen/1 status=1"
    assert stamen.encode_status(2, 17) == b"stamen/1 status=2 round=17"
    assert len(stamen.encode_status(3, 2**64 - 1)) <= 128
    with pytest.raises(stamen.ConfigError):
        stamen.encode_status(4)
