"""stamen.flower.status_mod with Flower 1.42's own Message/RecordDict/Context."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from typing import Optional

import pytest

flwr_app = pytest.importorskip("flwr.app")
flwr_clientapp = pytest.importorskip("flwr.clientapp")

from flwr.app import ConfigRecord, Context, Message, Metadata, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402

from stamen import ClientStatus  # noqa: E402
from stamen.flower import message_round, status_mod  # noqa: E402

from helpers import FakeAgent, Report  # noqa: E402

TRAINING = ClientStatus.TRAINING
IDLE = ClientStatus.IDLE


def make_message(
    message_type: str = "train",
    *,
    server_round: Optional[object] = None,
    group_id: str = "",
    content: Optional[RecordDict] = None,
) -> Message:
    """A message as a flwr-clientapp process receives it from the SuperNode."""
    if content is None:
        content = RecordDict()
        if server_round is not None:
            content["config"] = ConfigRecord({"server-round": server_round})  # type: ignore[dict-item]
    metadata = Metadata(
        run_id=11,
        message_id="m-1",
        src_node_id=1,
        dst_node_id=42,
        reply_to_message_id="",
        group_id=group_id,
        created_at=time.time(),
        ttl=600.0,
        message_type=message_type,
    )
    return Message(content=content, metadata=metadata)


def make_context() -> Context:
    return Context(run_id=11, node_id=42, node_config={"partition-id": 0}, state=RecordDict(), run_config={})


def reply_to(msg: Message) -> Message:
    return Message(RecordDict({"metrics": MetricRecord({"num-examples": 10})}), reply_to=msg)


def test_train_reports_training_then_idle_with_the_server_round(agent: FakeAgent) -> None:
    msg, ctx = make_message(server_round=3, group_id="3"), make_context()
    seen_during_call: list[Report] = []

    def call_next(m: Message, c: Context) -> Message:
        assert m is msg and c is ctx
        seen_during_call.extend(agent.receive(1))  # TRAINING arrived before the app ran
        assert agent.pending() == []  # and IDLE not yet
        return reply_to(m)

    out = status_mod(msg, ctx, call_next)
    assert out.metadata.reply_to_message_id == "m-1"
    assert seen_during_call == [Report(TRAINING, 3)]
    assert agent.receive(1) == [Report(IDLE, 3)]
    assert agent.pending() == []


def test_server_round_wins_over_group_id(agent: FakeAgent) -> None:
    status_mod(make_message(server_round=5, group_id="2"), make_context(), lambda m, c: reply_to(m))
    assert agent.receive(2) == [Report(TRAINING, 5), Report(IDLE, 5)]


def test_legacy_round_from_group_id(agent: FakeAgent) -> None:
    status_mod(make_message(group_id="7"), make_context(), lambda m, c: reply_to(m))
    assert agent.receive(2) == [Report(TRAINING, 7), Report(IDLE, 7)]


@pytest.mark.parametrize("group_id", ["", "round-1", "-1", "1.5", " 3", "٣"])
def test_no_usable_round_reports_status_only(agent: FakeAgent, group_id: str) -> None:
    status_mod(make_message(group_id=group_id), make_context(), lambda m, c: reply_to(m))
    assert agent.receive(2) == [Report(TRAINING, None), Report(IDLE, None)]


def test_rounds_beyond_the_wire_format_are_dropped_not_raised(agent: FakeAgent) -> None:
    status_mod(make_message(server_round=2**64, group_id=str(2**70)), make_context(), lambda m, c: reply_to(m))
    assert agent.receive(2) == [Report(TRAINING, None), Report(IDLE, None)]
    status_mod(make_message(server_round=2**64 - 1), make_context(), lambda m, c: reply_to(m))
    assert agent.receive(2) == [Report(TRAINING, 2**64 - 1), Report(IDLE, 2**64 - 1)]


@pytest.mark.parametrize("bad", [-1, 2.0, "4", True])
def test_server_round_that_is_not_a_non_negative_int_is_ignored(agent: FakeAgent, bad: object) -> None:
    status_mod(make_message(server_round=bad, group_id="9"), make_context(), lambda m, c: reply_to(m))
    assert agent.receive(2) == [Report(TRAINING, 9), Report(IDLE, 9)]


def test_raising_app_reports_idle_and_reraises_the_same_exception(agent: FakeAgent) -> None:
    boom = RuntimeError("out of memory in train")

    def call_next(m: Message, c: Context) -> Message:
        raise boom

    with pytest.raises(RuntimeError) as info:
        status_mod(make_message(server_round=2), make_context(), call_next)
    assert info.value is boom
    assert agent.receive(2) == [Report(TRAINING, 2), Report(IDLE, 2)]


def test_keyboard_interrupt_also_reports_idle(agent: FakeAgent) -> None:
    def call_next(m: Message, c: Context) -> Message:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        status_mod(make_message(server_round=1), make_context(), call_next)
    assert agent.receive(2) == [Report(TRAINING, 1), Report(IDLE, 1)]


@pytest.mark.parametrize("message_type", ["evaluate", "query", "evaluate.custom", "query.stats"])
def test_non_train_messages_pass_through_untouched(agent: FakeAgent, message_type: str) -> None:
    msg, ctx = make_message(message_type, server_round=4), make_context()
    reply = reply_to(msg)
    calls = []

    def call_next(m: Message, c: Context) -> Message:
        calls.append((m, c))
        return reply

    assert status_mod(msg, ctx, call_next) is reply
    assert calls == [(msg, ctx)]
    assert agent.pending() == []


def test_custom_train_action_is_reported(agent: FakeAgent) -> None:
    status_mod(make_message("train.finetune", server_round=6), make_context(), lambda m, c: reply_to(m))
    assert agent.receive(2) == [Report(TRAINING, 6), Report(IDLE, 6)]


def test_absent_agent_never_breaks_the_app(no_agent: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="stamen")
    for rnd in (1, 2, 3):
        msg = make_message(server_round=rnd)
        out = status_mod(msg, make_context(), lambda m, c: reply_to(m))
        assert out.metadata.reply_to_message_id == "m-1"
    warnings = [r for r in caplog.records if r.name == "stamen"]
    assert len(warnings) == 1, "warn once per process, not once per report"
    assert no_agent in warnings[0].getMessage()


def test_real_client_app_with_decorated_functions(agent: FakeAgent) -> None:
    app = ClientApp(mods=[status_mod])
    trained: list[int] = []

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        trained.append(int(msg.content["config"]["server-round"]))  # type: ignore[arg-type]
        return reply_to(msg)

    @app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        return reply_to(msg)

    ctx = make_context()
    app(make_message("train", server_round=1), ctx)
    app(make_message("evaluate", server_round=1), ctx)
    app(make_message("train", server_round=2), ctx)
    assert trained == [1, 2]
    assert agent.receive(4) == [Report(TRAINING, 1), Report(IDLE, 1), Report(TRAINING, 2), Report(IDLE, 2)]
    assert agent.pending() == []


def test_real_client_app_that_raises(agent: FakeAgent) -> None:
    app = ClientApp(mods=[status_mod])

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        app(make_message("train", server_round=8), make_context())
    assert agent.receive(2) == [Report(TRAINING, 8), Report(IDLE, 8)]


def test_each_message_in_a_new_process_reaches_the_agent(agent: FakeAgent) -> None:
    """Like flwr-clientapp: a fresh interpreter per message, the path only in the env."""
    script = textwrap.dedent(
        """
        import sys, time, warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        from flwr.app import ConfigRecord, Context, Message, Metadata, MetricRecord, RecordDict
        from stamen.flower import status_mod
        rnd = int(sys.argv[1])
        md = Metadata(run_id=1, message_id="x", src_node_id=1, dst_node_id=2, reply_to_message_id="",
                      group_id=str(rnd), created_at=time.time(), ttl=60.0, message_type="train")
        msg = Message(content=RecordDict({"config": ConfigRecord({"server-round": rnd})}), metadata=md)
        ctx = Context(run_id=1, node_id=2, node_config={}, state=RecordDict(), run_config={})
        status_mod(msg, ctx, lambda m, c: Message(RecordDict(), reply_to=m))
        """
    )
    env = dict(os.environ, STAMEN_STATUS_SOCKET=agent.path)
    for rnd in (1, 2):
        subprocess.run([sys.executable, "-c", script, str(rnd)], env=env, check=True, timeout=60)
    assert agent.receive(4) == [Report(TRAINING, 1), Report(IDLE, 1), Report(TRAINING, 2), Report(IDLE, 2)]


def test_message_round_of_a_message_without_content() -> None:
    from flwr.app import Error

    metadata = Metadata(
        run_id=1, message_id="e", src_node_id=1, dst_node_id=2, reply_to_message_id="",
        group_id="12", created_at=time.time(), ttl=60.0, message_type="train",
    )
    msg = Message(error=Error(code=0, reason="x"), metadata=metadata)
    assert message_round(msg) == 12
