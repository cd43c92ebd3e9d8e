"""OneFlow policies through Python: new_cardinality vectors and the linter."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stamen import LintFinding, PolicyError, lint_policy, new_cardinality

from helpers import REPO_ROOT, VECTORS


def load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (VECTORS / "oneflow" / name).read_text().splitlines() if line.strip()]


NC_CASES = [c for c in load("policy-cases.jsonl") if c["kind"] == "new_cardinality"]
NC_EXPECTED = {e["id"]: e for e in load("policy-expected.jsonl") if e["kind"] == "new_cardinality"}
EXAMPLES = REPO_ROOT / "examples" / "policies"


def test_new_cardinality_vectors_exist() -> None:
    assert len(NC_CASES) == len(NC_EXPECTED) >= 20


@pytest.mark.parametrize("case", NC_CASES, ids=[c["id"] for c in NC_CASES])
def test_new_cardinality_vectors(case: dict[str, Any]) -> None:
    exp = NC_EXPECTED[case["id"]]
    if exp["status"] == "ok":
        assert new_cardinality(case["role"], case["policy"]) == exp["new_cardinality"]
    else:
        with pytest.raises(PolicyError) as info:
            new_cardinality(case["role"], case["policy"])
        assert info.value.ruby_class == exp["exception"]["class"]  # type: ignore[attr-defined]


def test_new_cardinality_reads_like_ruby() -> None:
    role = {"cardinality": "4", "min_vms": "1", "max_vms": "10"}
    assert new_cardinality(role, {"type": "change", "adjust": "2abc"}) == 6  # to_i, upcase
    assert new_cardinality(role, {"type": "PERCENTAGE_CHANGE", "adjust": -10}) == 3  # |c| < 1 → step 1
    with pytest.raises(PolicyError, match="upcase") as info:
        new_cardinality(role, {"adjust": 1})
    assert info.value.ruby_class == "NoMethodError"  # type: ignore[attr-defined]
    # Fields OneFlow cannot convert: it crashes when the policy fires.
    for policy, message in [
        ({"type": "CHANGE", "adjust": [1]}, "undefined method 'to_i' for an instance of Array"),
        ({"type": 7, "adjust": 1}, "undefined method 'upcase' for an instance of Integer"),
        ({"type": "PERCENTAGE_CHANGE", "adjust": 10, "min_adjust_step": True}, "undefined method 'to_i' for true"),
    ]:
        with pytest.raises(PolicyError) as crash:
            new_cardinality(role, policy)
        assert (crash.value.ruby_class, crash.value.ruby_message) == ("NoMethodError", message)  # type: ignore[attr-defined]
    # min_adjust_step is only read by PERCENTAGE_CHANGE.
    assert new_cardinality(role, {"type": "CHANGE", "adjust": 1, "min_adjust_step": [2]}) == 5


def reference_new_cardinality(card: int, lo: int, hi: int, kind: str, adjust: int, step: int) -> int:
    """SPEC §7, written out plainly (slow and obvious) to check the core against."""
    if kind == "CHANGE":
        new = card + adjust
    elif kind == "CARDINALITY":
        new = adjust
    else:
        c = card * adjust / 100
        s = 1 if abs(c) < 1 else int(abs(c))
        s = max(s, step)
        new = card + (s if c > 0 else -s)
    if adjust > 0 and new > max(card, hi):
        return max(card, hi)
    if adjust < 0 and new < lo:
        return lo
    return new


@settings(max_examples=500, deadline=None)
@given(
    card=st.integers(0, 50),
    lo=st.integers(0, 50),
    hi=st.integers(0, 50),
    kind=st.sampled_from(["CHANGE", "CARDINALITY", "PERCENTAGE_CHANGE"]),
    adjust=st.integers(-100, 100),
    step=st.integers(0, 10),
)
def test_new_cardinality_matches_the_spec_reference(card: int, lo: int, hi: int, kind: str, adjust: int, step: int) -> None:
    got = new_cardinality(
        {"cardinality": card, "min_vms": lo, "max_vms": hi},
        {"type": kind, "adjust": adjust, "min_adjust_step": step},
    )
    assert got == reference_new_cardinality(card, lo, hi, kind, adjust, step)


def test_lint_finds_the_seed_anti_patterns() -> None:
    doc = json.loads((EXAMPLES / "flower-service-antipatterns.json").read_text())
    findings = lint_policy(doc, min_fit_clients=2, round_seconds=60)
    codes = {f.code for f in findings}
    assert {"STAMEN-L002", "STAMEN-L005", "STAMEN-L006", "STAMEN-L008", "STAMEN-L009"} <= codes
    assert all(isinstance(f, LintFinding) and f.severity in ("info", "warning", "error") for f in findings)
    assert all(f.path.startswith("$.roles[") and f.message and f.fix for f in findings)
    l002 = next(f for f in findings if f.code == "STAMEN-L002")
    assert str(l002).startswith("error STAMEN-L002 $.roles[0]")


def test_lint_of_the_good_example_has_no_errors() -> None:
    doc = json.loads((EXAMPLES / "flower-service.json").read_text())
    assert [f for f in lint_policy(doc) if f.severity == "error"] == []


def test_lint_single_role_and_options() -> None:
    role = {"name": "supernode", "cardinality": 2, "min_vms": 1, "max_vms": 4,
            "elasticity_policies": [{"type": "CHANGE", "adjust": 1, "expression": "MY_METRIC > 1", "period": 30}]}
    by_code = lambda fs: {f.code for f in fs}  # noqa: E731
    assert "STAMEN-L009" in by_code(lint_policy(role))
    assert "STAMEN-L009" not in by_code(lint_policy(role, extra_attributes=["my_metric"]))
    assert "STAMEN-L001" in by_code(lint_policy(role, min_fit_clients=2))
    assert lint_policy(role)[0].path.startswith("$.")


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"roles": {}}, r"\$\.roles: must be a list"),
        ({"roles": [{"cardinality": [1]}]}, r"\$\.roles\[0\]\.cardinality"),
        ({"roles": [{"elasticity_policies": [{"expression": 3}]}]}, r"elasticity_policies\[0\]\.expression: must be a string"),
    ],
)
def test_lint_rejects_documents_oneflow_cannot_read(doc: dict[str, Any], match: str) -> None:
    with pytest.raises(PolicyError, match=match):
        lint_policy(doc)


def _stamen_bin() -> Path | None:
    env = os.environ.get("STAMEN_BIN")
    for p in ([Path(env)] if env else [REPO_ROOT / "target" / "debug" / "stamen", REPO_ROOT / "target" / "release" / "stamen"]):
        if p.is_file():
            return p
    return None


CRASHING = {
    "roles": [
        {
            "name": "supernode", "cardinality": 2, "min_vms": 1, "max_vms": 4,
            "elasticity_policies": [
                {"type": "CHANGE", "adjust": True, "expression": "CPU > 1", "period": 10},
                {"type": ["CHANGE"], "adjust": 1, "expression": "CPU > 2", "period": 10},
            ],
            "scheduled_policies": [
                {"type": "CHANGE", "adjust": 1, "start_time": 1718000000},
                {"type": "CHANGE", "adjust": 1, "recurrence": ["0", "*"]},
                {"type": "PERCENTAGE_CHANGE", "adjust": 10, "min_adjust_step": {}, "recurrence": "0 * * * *"},
            ],
        }
    ]
}


def test_lint_reports_fields_oneflow_would_crash_on() -> None:
    findings = lint_policy(CRASHING)
    crashing = [f for f in findings if "crash" in f.message.lower()]
    assert len(crashing) >= 3, findings


@pytest.mark.parametrize("example", [*sorted(p.name for p in EXAMPLES.glob("*.json")), "<crashing>"])
def test_lint_matches_the_cli(example: str, tmp_path: Path) -> None:
    binary = _stamen_bin()
    if binary is None:
        pytest.skip("stamen binary not built (cargo build -p stamen-agent)")
    if example == "<crashing>":
        path = tmp_path / "crashing.json"
        path.write_text(json.dumps(CRASHING))
    else:
        path = EXAMPLES / example
    out = subprocess.run(
        [str(binary), "policy", "lint", "--json", "--min-fit-clients", "2", "--round-seconds", "60", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    cli_findings = json.loads(out.stdout)["findings"]
    py = lint_policy(json.loads(path.read_text()), min_fit_clients=2, round_seconds=60)
    assert [(f["id"], f["severity"], f["path"], f["message"], f["fix"]) for f in cli_findings] == [
        (f.code, f.severity, f.path, f.message, f.fix) for f in py
    ]
