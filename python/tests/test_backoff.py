"""stamen.Backoff: the core schedule through Python."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stamen import Backoff, ConfigError


def take(b: Backoff, n: int) -> list[float]:
    return [next(b) for _ in range(n)]


def test_seed_schedule_without_jitter() -> None:
    b = Backoff(jitter="none", seed=7)
    assert take(b, 8) == [10, 20, 40, 80, 160, 300, 300, 300]
    assert b.failures == 8 and b.gave_up is None and b.cap == 300


def test_fixed_legacy_schedule_is_30_attempts() -> None:
    b = Backoff("fixed", jitter="none", seed=7)
    delays = list(b)
    assert delays == [10.0] * 29  # 30 attempts = 29 waits
    assert b.gave_up is not None and "30 attempts" in b.gave_up
    with pytest.raises(StopIteration):
        next(b)


def test_success_resets_the_schedule() -> None:
    b = Backoff(jitter="none", seed=1)
    take(b, 4)
    b.on_success()
    assert b.failures == 0
    assert take(b, 2) == [10, 20]


def test_equal_jitter_stays_in_the_upper_half_of_the_envelope() -> None:
    b = Backoff(jitter="equal", seed=123)
    for retry in range(1, 40):
        d = next(b)
        e = b.envelope(retry)
        assert e / 2 <= d <= e


def test_same_seed_same_delays() -> None:
    assert take(Backoff(jitter="full", seed=99), 20) == take(Backoff(jitter="full", seed=99), 20)
    assert take(Backoff(jitter="full", seed=99), 20) != take(Backoff(jitter="full", seed=100), 20)


def test_custom_exponential_and_multiplier_forms() -> None:
    for m in (1.5, "1.5"):
        b = Backoff(initial=1, multiplier=m, max_backoff=5, jitter="none", seed=0)
        assert take(b, 6) == [1, 1.5, 2.25, 3.375, 5, 5]


def test_retry_after_hint_raises_one_delay_even_above_the_cap() -> None:
    b = Backoff(max_backoff=30, jitter="none", seed=0)
    b.hint_retry_after(120)
    assert take(b, 2) == [120, 20]


def test_max_elapsed_uses_the_given_clock() -> None:
    b = Backoff(initial=10, jitter="none", max_elapsed=25, seed=0)
    assert b.on_failure(now=1000.0) == 10
    assert b.next_at == 1010.0
    assert b.on_failure(now=1010.0) is None  # 1010 + 20 > 1000 + 25
    assert b.gave_up is not None and "elapsed" in b.gave_up


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "linear"}, "allowed: exponential, fixed"),
        ({"jitter": "some"}, "allowed: none, full, equal, decorrelated"),
        ({"multiplier": 0.5}, "at least 1"),
        ({"multiplier": "1.2345"}, "3 decimals"),
        ({"initial": -1.0}, "initial must be"),
        ({"initial": float("nan")}, "initial must be"),
        ({"max_backoff": 1e300}, "too large"),
        ({"strategy": "fixed", "initial": 1.0}, "apply to the exponential"),
        ({"interval": 5.0}, "fixed strategy only"),
    ],
)
def test_invalid_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Backoff(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    initial=st.floats(0, 1e6),
    cap=st.floats(0, 1e7),
    multiplier=st.sampled_from(["1", "1.001", "1.6", "2", "10", "1000"]),
    jitter=st.sampled_from(["none", "full", "equal", "decorrelated"]),
    seed=st.integers(0, 2**64 - 1),
    n=st.integers(1, 200),
)
def test_no_delay_ever_exceeds_the_cap(
    initial: float, cap: float, multiplier: str, jitter: str, seed: int, n: int
) -> None:
    b = Backoff(initial=initial, multiplier=multiplier, max_backoff=cap, jitter=jitter, seed=seed)
    for d in take(b, n):
        assert 0 <= d <= b.cap
