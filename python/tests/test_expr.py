"""OneFlow expressions through Python: the shared vectors (value + trace), errors, properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stamen
from stamen import EvalError, Evaluation, Expression, ExprParseError, evaluate

from helpers import VECTORS

ONEFLOW = VECTORS / "oneflow"


def load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (ONEFLOW / name).read_text().splitlines() if line.strip()]


CASES = load("expr-cases.jsonl")
EXPECTED = {e["id"]: e for e in load("expr-expected.jsonl")}


def test_every_case_has_an_expected_result() -> None:
    assert len(CASES) == len(EXPECTED) == 168
    assert {c["id"] for c in CASES} == set(EXPECTED)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_expression_vectors(case: dict[str, Any]) -> None:
    exp = EXPECTED[case["id"]]
    expr = case.get("expr")
    kwargs = {"vars": case["vars"]} if "vars" in case else {"vms": case.get("vms", [])}
    status = exp["status"]
    if status == "ok":
        got = evaluate(expr, **kwargs)
        assert (got.value, got.trace) == (exp["value"], exp["trace"])
        assert Expression(expr).tree == exp["tree"]
    elif status == "parse_error":
        with pytest.raises(ExprParseError) as info:
            evaluate(expr, **kwargs)
        e = info.value
        assert (e.index, e.failure_reason, e.trace) == (exp["failure_index"], exp["failure_reason"], exp["trace"])
        assert e.column is not None and e.expression == expr
    elif status == "empty":
        # OneFlow skips the policy (false, no trace); compiling one is an error here.
        with pytest.raises(ExprParseError, match="empty") as info:
            evaluate(expr or "", **kwargs)
        assert info.value.failure_reason is None and info.value.trace is None
    else:
        assert status == "exception"
        with pytest.raises(EvalError) as einfo:
            evaluate(expr, **kwargs)
        assert (einfo.value.ruby_class, einfo.value.ruby_message) == (
            exp["exception"]["class"],
            exp["exception"]["message"],
        )


def test_compile_once_evaluate_many() -> None:
    e = Expression("FL_CLIENT_STATUS > 1.5 && fl_training_active == 1")
    assert e.variables == ["FL_CLIENT_STATUS", "FL_TRAINING_ACTIVE"]
    assert str(e) == "FL_CLIENT_STATUS > 1.5 && fl_training_active == 1"
    assert repr(e) == "Expression('FL_CLIENT_STATUS > 1.5 && fl_training_active == 1')"
    vms = [
        {"USER_TEMPLATE": {"FL_CLIENT_STATUS": "2", "FL_TRAINING_ACTIVE": "1"}},
        {"USER_TEMPLATE": {"FL_CLIENT_STATUS": "1", "FL_TRAINING_ACTIVE": "1"}},
        {"USER_TEMPLATE": {"FL_CLIENT_STATUS": "3"}, "STATE": "8"},  # not running: skipped
    ]
    r = e.evaluate(vms=vms)
    assert r == Evaluation(False, "FL_CLIENT_STATUS[1.5] > 1.5 && FL_TRAINING_ACTIVE[1.0] == 1")
    assert not r
    assert e.evaluate(vars={"FL_CLIENT_STATUS": 2, "FL_TRAINING_ACTIVE": "1"})
    assert e.evaluate().trace == "FL_CLIENT_STATUS[--] > 1.5 && FL_TRAINING_ACTIVE[--] == 1"


def test_opennebula_vm_documents_are_accepted() -> None:
    doc = {"VM": {"STATE": "3", "LCM_STATE": "3", "USER_TEMPLATE": {}, "MONITORING": {"CPU": "40"}, "TEMPLATE": {}}}
    assert evaluate("CPU > 30", vms=[doc, doc]).trace == "CPU[40.0] > 30"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vars": {"A": 1}, "vms": []}, stamen.ConfigError, "either vars"),
        ({"vms": [{"STAT": "3"}]}, stamen.ConfigError, r"vms\[0\]\.STAT: unknown key"),
        ({"vms": [{"IN_POOL": "no"}]}, stamen.ConfigError, r"vms\[0\]\.IN_POOL"),
        ({"vms": [3]}, stamen.ConfigError, r"vms\[0\]: expected a VM dict"),
        ({"vms": {"A": 1}}, TypeError, "list of VM dicts"),
        ({"vars": {"A": object()}}, TypeError, r"vars\.A"),
        ({"vars": {1: "x"}}, TypeError, "keys must be str"),
    ],
)
def test_bad_vm_input(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        evaluate("A > 1", **kwargs)


def test_ruby_conversions() -> None:
    assert stamen.ruby_to_f("12abc") == 12.0 and stamen.ruby_to_f("YES") == 0.0 and stamen.ruby_to_f("1e3") == 1000.0
    assert [stamen.ruby_float_to_s(x) for x in (100.0, 1e16, 1e-5, 0.0001, 1234567890123456.8)] == [
        "100.0", "1.0e+16", "1.0e-05", "0.0001", "1234567890123456.8"
    ]


# --- properties ---------------------------------------------------------------------------

names = st.sampled_from(["A", "B", "CPU", "FL_CLIENT_STATUS"])
ops = st.sampled_from(["==", "=", "!=", "<>", ">=", ">", "<=", "<"])
numbers = st.integers(-1000, 1000).map(str) | st.floats(-1e3, 1e3, allow_nan=False).map(lambda f: f"{f:.2f}")
comparisons = st.builds(lambda n, o, v: f"{n} {o} {v}", names, ops, numbers)
expressions = st.recursive(
    comparisons,
    lambda inner: st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["&&", "||", "&", "|"]), inner)
    | st.builds(lambda a: f"({a})", inner)
    | st.builds(lambda a: f"!{a}", inner),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(expressions, st.dictionaries(names, st.floats(-1e3, 1e3, allow_nan=False).map(str), max_size=4))
def test_generated_expressions_parse_and_normalise_stably(text: str, vars: dict[str, str]) -> None:
    e = Expression(text)
    again = Expression(str(e))
    assert again.tree == e.tree  # the normalised text parses to the same tree
    r1, r2 = e.evaluate(vars), again.evaluate(vars)
    assert r1 == r2
    # Evaluating twice gives the same answer (no hidden state).
    assert e.evaluate(vars) == r1


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_expr_parse_error(text: str) -> None:
    try:
        e = Expression(text)
    except ExprParseError as err:
        assert err.expression == text
        if err.index is not None and err.failure_reason is not None:
            assert 0 <= err.index <= len(text.encode())
    else:
        assert isinstance(e.evaluate().value, bool)


def test_concurrent_evaluation_from_threads() -> None:
    """Evaluation releases the GIL; results stay correct under concurrency."""
    from concurrent.futures import ThreadPoolExecutor

    e = Expression("(CPU > 50 || MEM < 10) && !(NET == 0)")
    inputs = [{"CPU": str(i % 100), "MEM": str(i % 17), "NET": str(i % 3)} for i in range(400)]
    expected = [e.evaluate(v) for v in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda v: e.evaluate(v), inputs))
        got_fn = list(pool.map(lambda v: evaluate("(CPU > 50 || MEM < 10) && !(NET == 0)", v), inputs))
    assert got == expected == got_fn
