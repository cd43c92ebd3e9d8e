"""Python objects read as OneFlow JSON documents (shared with the agent through stamen-json)."""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest

import stamen
from stamen import ConfigError, PolicyError, evaluate, lint_policy, new_cardinality


def test_a_vm_with_several_bad_keys_reports_the_first_written() -> None:
    with pytest.raises(ConfigError, match=r"vms\[0\]\.STAT: unknown key"):
        evaluate("A > 1", vms=[{"STAT": "3", "IN_POOL": "no"}])
    with pytest.raises(ConfigError, match=r"vms\[0\]\.IN_POOL: expected True or False"):
        evaluate("A > 1", vms=[OrderedDict([("IN_POOL", "no"), ("STAT", "3")])])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_not_json(bad: float) -> None:
    with pytest.raises(ConfigError, match=r"vars\.A: expected a finite number"):
        evaluate("A > 1", vars={"A": bad})
    with pytest.raises(PolicyError, match=r"role\.cardinality: number out of range"):
        new_cardinality({"cardinality": bad}, {"type": "CHANGE", "adjust": 1})
    with pytest.raises(PolicyError, match=r"\$\.roles\[0\]\.x: number out of range"):
        lint_policy({"roles": [{"x": bad}]})


def test_tuples_and_mappings_are_read_like_lists_and_dicts() -> None:
    vms = ({"USER_TEMPLATE": OrderedDict(CPU="50")}, {"USER_TEMPLATE": {"CPU": 30}})
    assert evaluate("CPU > 30", vms=vms).trace == "CPU[40.0] > 30"
    assert stamen.Expression("CPU > 1").evaluate(vars={"CPU": 2**70}).value
