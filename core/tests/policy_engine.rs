//! The policy engine: `new_cardinality` against every `new_cardinality`
//! vector, and the `scale?` state machine driven tick by tick with a scripted
//! evaluator (the sequence vectors with real expressions run in the agent).

use heapless::String;
use serde_json::Value;
use stamen_core::policy::ruby::{float_to_i, str_to_i};
use stamen_core::policy::{
    new_cardinality, Adjustment, AdjustmentType, Autoscaler, Bounds, Decision, ElasticityPolicy,
    ElasticityState, EvalError, Evaluator, RubyException, ScaleError, Schedule, ScheduledPolicy,
    ScheduledState, Source, Trace, DEFAULT_COOLDOWN,
};

fn to_i(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(float_to_i))
            .unwrap_or(0),
        Some(Value::String(s)) => str_to_i(s),
        _ => 0,
    }
}

fn opt_i(v: Option<&Value>) -> Option<i64> {
    v.filter(|v| !v.is_null()).map(|v| to_i(Some(v)))
}

#[test]
fn new_cardinality_vectors() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/oneflow/");
    let cases = std::fs::read_to_string(format!("{dir}policy-cases.jsonl")).unwrap_or_default();
    let expected =
        std::fs::read_to_string(format!("{dir}policy-expected.jsonl")).unwrap_or_default();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (case, want) in cases.lines().zip(expected.lines()) {
        let case: Value = serde_json::from_str(case).unwrap_or(Value::Null);
        let want: Value = serde_json::from_str(want).unwrap_or(Value::Null);
        if case.get("kind").and_then(Value::as_str) != Some("new_cardinality") {
            continue;
        }
        let role = &case["role"];
        let policy = &case["policy"];
        let bounds = Bounds {
            cardinality: to_i(role.get("cardinality")),
            min_vms: opt_i(role.get("min_vms")),
            max_vms: opt_i(role.get("max_vms")),
        };
        let adj = Adjustment {
            kind: AdjustmentType::from_name(policy.get("type").and_then(Value::as_str)),
            adjust: to_i(policy.get("adjust")),
            min_adjust_step: to_i(policy.get("min_adjust_step")),
        };
        let got = new_cardinality(&bounds, &adj);
        let ok = match want.get("status").and_then(Value::as_str) {
            Some("ok") => got.ok() == want.get("new_cardinality").and_then(Value::as_i64),
            _ => got.is_err(),
        };
        if !ok {
            mismatches.push(format!("{}: got {got:?}, want {want}", case["id"]));
        }
        checked += 1;
    }
    assert_eq!(checked, 27, "new_cardinality cases in the vectors");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Answers from a script: one boolean per call, trace "step N".
struct Script<'a> {
    answers: &'a [bool],
    calls: usize,
    fail_at: Option<usize>,
}

impl Evaluator<64> for Script<'_> {
    fn evaluate(&mut self, expression: &str, trace: &mut String<64>) -> Result<bool, EvalError> {
        let n = self.calls;
        self.calls += 1;
        if self.fail_at == Some(n) {
            return Err(EvalError::Exception(RubyException {
                class: "FloatDomainError",
                message: "Infinity",
            }));
        }
        trace.clear();
        let _ = core::fmt::Write::write_fmt(trace, format_args!("{expression}#{n}"));
        Ok(self.answers.get(n).copied().unwrap_or(false))
    }
}

fn change(adjust: i64) -> Adjustment {
    Adjustment {
        kind: AdjustmentType::Change,
        adjust,
        min_adjust_step: 0,
    }
}

fn policy(
    expr: &str,
    adjust: i64,
    period: i64,
    period_number: i64,
    cooldown: Option<i64>,
) -> ElasticityPolicy<'_> {
    ElasticityPolicy {
        expression: Some(expr),
        adjustment: change(adjust),
        period,
        period_number,
        cooldown,
    }
}

type Role<'a> = Autoscaler<'a, 4, 64>;

fn role(card: i64, min: i64, max: i64, cooldown: Option<i64>) -> Role<'static> {
    Autoscaler::new(
        Bounds {
            cardinality: card,
            min_vms: Some(min),
            max_vms: Some(max),
        },
        cooldown,
        DEFAULT_COOLDOWN,
    )
}

#[test]
fn period_number_counts_consecutive_true_evaluations() {
    let mut r = role(1, 1, 5, None);
    assert!(r
        .add_elasticity(policy("A", 1, 60, 3, None), ElasticityState::default())
        .is_ok());
    let mut ev = Script {
        answers: &[true, true, true, true],
        calls: 0,
        fail_at: None,
    };
    let diffs: Vec<i64> = [1000, 1060, 1120, 1180]
        .iter()
        .map(|t| {
            r.tick(*t, true, &mut ev)
                .map(|t| t.decision.diff)
                .unwrap_or(i64::MIN)
        })
        .collect();
    assert_eq!(diffs, [0, 0, 1, 0]);
    assert_eq!(r.bounds.cardinality, 2);
    // Cleared by the scale at 1120, counted again at 1180.
    assert_eq!(r.elasticity[0].state.true_evals, Some(1));
    assert_eq!(r.elasticity[0].state.last_eval, Some(1180));
}

#[test]
fn evaluations_closer_than_period_change_nothing() {
    let mut r = role(1, 1, 5, None);
    assert!(r
        .add_elasticity(policy("A", 1, 60, 3, None), ElasticityState::default())
        .is_ok());
    let mut ev = Script {
        answers: &[true, false, true],
        calls: 0,
        fail_at: None,
    };
    assert!(r.tick(1000, true, &mut ev).is_ok());
    assert!(r.tick(1059, true, &mut ev).is_ok());
    assert_eq!(ev.calls, 1, "skipped inside the period");
    assert_eq!(r.elasticity[0].state.last_eval, Some(1000));
    // A first pass before `period` seconds after the epoch is skipped too
    // (last_eval reads as 0).
    let mut early = role(1, 1, 5, None);
    assert!(early
        .add_elasticity(policy("A", 1, 60, 1, None), ElasticityState::default())
        .is_ok());
    assert!(early.tick(30, true, &mut ev).is_ok());
    assert_eq!(early.elasticity[0].state.last_eval, None);
}

#[test]
fn first_non_zero_policy_wins_and_cooldown_resolves() {
    let mut r = role(2, 1, 10, Some(120));
    assert!(r
        .add_elasticity(policy("UP", 1, 0, 0, Some(30)), ElasticityState::default())
        .is_ok());
    assert!(r
        .add_elasticity(policy("DOWN", -1, 0, 0, None), ElasticityState::default())
        .is_ok());
    let mut ev = Script {
        answers: &[true, false, true],
        calls: 0,
        fail_at: None,
    };
    let up = r.tick(10, true, &mut ev).map(|t| t.decision);
    assert_eq!(
        up,
        Ok(Decision {
            diff: 1,
            cooldown: Some(30),
            source: Source::Elasticity(0)
        })
    );
    assert_eq!(
        r.elasticity[1].state,
        ElasticityState::default(),
        "second policy not evaluated"
    );
    assert_eq!(
        r.cooldown, 30,
        "the policy's cooldown is written into the role"
    );
    let down = r.tick(20, true, &mut ev).map(|t| t.decision);
    // No policy cooldown: the role's (now 30) is used.
    assert_eq!(
        down,
        Ok(Decision {
            diff: -1,
            cooldown: Some(30),
            source: Source::Elasticity(1)
        })
    );
    assert_eq!(r.bounds.cardinality, 2);
}

#[test]
fn empty_expression_is_never_true_and_traces_null() {
    let mut r = role(2, 1, 10, None);
    let p = ElasticityPolicy {
        expression: Some(""),
        adjustment: change(1),
        period: 0,
        period_number: 0,
        cooldown: None,
    };
    assert!(r.add_elasticity(p, ElasticityState::default()).is_ok());
    let mut ev = Script {
        answers: &[],
        calls: 0,
        fail_at: None,
    };
    let d = r.tick(10, true, &mut ev).map(|t| t.decision.diff);
    assert_eq!(d, Ok(0));
    assert_eq!(ev.calls, 0);
    assert_eq!(r.elasticity[0].state.expression_evaluated, Trace::Null);
    assert_eq!(r.elasticity[0].state.true_evals, Some(0));
}

#[test]
fn refused_scale_keeps_cardinality_and_counters() {
    let mut r = role(5, 3, 10, None);
    let p = ElasticityPolicy {
        expression: Some("A"),
        adjustment: Adjustment {
            kind: AdjustmentType::Cardinality,
            adjust: 1,
            min_adjust_step: 0,
        },
        period: 0,
        period_number: 0,
        cooldown: None,
    };
    assert!(r.add_elasticity(p, ElasticityState::default()).is_ok());
    let mut ev = Script {
        answers: &[true],
        calls: 0,
        fail_at: None,
    };
    let t = r.tick(10, true, &mut ev);
    assert_eq!(
        t.map(|t| (t.decision.diff, t.scale_error)),
        Ok((-4, Some(ScaleError::Minimum(Some(3)))))
    );
    assert_eq!(r.bounds.cardinality, 5);
    assert_eq!(r.elasticity[0].state.true_evals, Some(0));
    assert_eq!(
        ScaleError::Minimum(Some(3)).to_string(),
        "Minimum cardinality is 3"
    );
}

#[test]
fn min_vms_rule_scales_up_with_cooldown_zero() {
    let mut r = role(1, 3, 5, None);
    let mut ev = Script {
        answers: &[],
        calls: 0,
        fail_at: None,
    };
    let t = r.tick(10, true, &mut ev).map(|t| t.decision);
    assert_eq!(
        t,
        Ok(Decision {
            diff: 2,
            cooldown: Some(0),
            source: Source::MinVms
        })
    );
    assert_eq!(r.bounds.cardinality, 3);
    assert_eq!(r.cooldown, 0);
}

#[test]
fn scheduled_start_time_fires_once_after_the_first_pass() {
    let mut r = role(1, 1, 10, None);
    let sched = ScheduledPolicy {
        adjustment: Some(Adjustment {
            kind: AdjustmentType::Cardinality,
            adjust: 4,
            min_adjust_step: 0,
        }),
        schedule: Schedule::At(1000),
        cooldown: None,
    };
    assert!(r.add_scheduled(sched, ScheduledState::default()).is_ok());
    let mut ev = Script {
        answers: &[],
        calls: 0,
        fail_at: None,
    };
    let got: Vec<(i64, Option<i64>)> = [900, 999, 1000, 1100]
        .iter()
        .map(|t| {
            r.tick(*t, true, &mut ev)
                .map(|t| (t.decision.diff, t.decision.cooldown))
                .unwrap_or((0, None))
        })
        .collect();
    assert_eq!(got, [(0, Some(0)), (0, Some(0)), (3, None), (0, Some(0))]);
    assert_eq!(r.bounds.cardinality, 4);
    assert_eq!(
        r.cooldown, DEFAULT_COOLDOWN,
        "a nil cooldown is not written"
    );
}

#[test]
fn scheduled_policies_run_first_and_cron_works() {
    let mut r = role(2, 1, 10, None);
    let cron = Schedule::from_fields(None, Some("0 24 * * *")).unwrap_or(Schedule::At(0));
    let sched = ScheduledPolicy {
        adjustment: Some(Adjustment {
            kind: AdjustmentType::Cardinality,
            adjust: 3,
            min_adjust_step: 0,
        }),
        schedule: cron,
        cooldown: Some(5),
    };
    assert!(r.add_scheduled(sched, ScheduledState::default()).is_ok());
    assert!(r
        .add_elasticity(policy("A", 1, 0, 0, None), ElasticityState::default())
        .is_ok());
    let mut ev = Script {
        answers: &[true, true],
        calls: 0,
        fail_at: None,
    };
    let first = r
        .tick(1_675_080_030, false, &mut ev)
        .map(|t| t.decision.source);
    assert_eq!(first, Ok(Source::Elasticity(0)));
    let second = r.tick(1_675_123_200, false, &mut ev).map(|t| t.decision);
    assert_eq!(
        second,
        Ok(Decision {
            diff: 1,
            cooldown: Some(5),
            source: Source::Scheduled(0)
        })
    );
    assert_eq!(
        ev.calls, 1,
        "elasticity not evaluated when a scheduled policy fires"
    );
}

#[test]
fn exceptions_propagate_with_last_eval_already_written() {
    let mut r = role(2, 1, 10, None);
    assert!(r
        .add_elasticity(policy("A", 1, 0, 0, None), ElasticityState::default())
        .is_ok());
    let mut ev = Script {
        answers: &[],
        calls: 0,
        fail_at: Some(0),
    };
    let t = r.tick(10, true, &mut ev);
    assert!(matches!(t, Err(EvalError::Exception(e)) if e.class == "FloatDomainError"));
    assert_eq!(r.elasticity[0].state.last_eval, Some(10));
    assert_eq!(r.elasticity[0].state.true_evals, None);
}

#[test]
fn missing_type_crashes_only_when_the_policy_fires() {
    let mut r = role(2, 1, 10, None);
    let p = ElasticityPolicy {
        expression: Some("A"),
        adjustment: Adjustment {
            kind: AdjustmentType::Missing,
            adjust: 1,
            min_adjust_step: 0,
        },
        period: 0,
        period_number: 0,
        cooldown: None,
    };
    assert!(r.add_elasticity(p, ElasticityState::default()).is_ok());
    let mut ev = Script {
        answers: &[false, true],
        calls: 0,
        fail_at: None,
    };
    assert!(r.tick(10, true, &mut ev).is_ok());
    assert!(
        matches!(r.tick(20, true, &mut ev), Err(EvalError::Exception(e)) if e.class == "NoMethodError")
    );
}

#[test]
fn capacity_is_enforced() {
    let mut r: Autoscaler<'_, 1, 64> = Autoscaler::new(
        Bounds {
            cardinality: 1,
            min_vms: None,
            max_vms: None,
        },
        None,
        300,
    );
    assert!(r
        .add_elasticity(policy("A", 1, 0, 0, None), ElasticityState::default())
        .is_ok());
    assert!(r
        .add_elasticity(policy("B", 1, 0, 0, None), ElasticityState::default())
        .is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = AdjustmentType> {
        prop::sample::select(vec![
            AdjustmentType::Change,
            AdjustmentType::Cardinality,
            AdjustmentType::PercentageChange,
            AdjustmentType::Unknown,
        ])
    }

    fn extreme() -> impl Strategy<Value = i64> {
        prop_oneof![any::<i64>(), -20i64..20, Just(i64::MIN), Just(i64::MAX)]
    }

    proptest! {
        #[test]
        fn new_cardinality_never_panics_and_respects_clamps(
            card in extreme(), min in prop::option::of(extreme()), max in prop::option::of(extreme()),
            kind in kind(), adjust in extreme(), step in extreme(),
        ) {
            let bounds = Bounds { cardinality: card, min_vms: min, max_vms: max };
            let adj = Adjustment { kind, adjust, min_adjust_step: step };
            let n = new_cardinality(&bounds, &adj);
            prop_assert!(n.is_ok());
            let n = n.unwrap_or(0);
            if adjust > 0 && kind != AdjustmentType::Unknown {
                prop_assert!(n <= card.max(max.unwrap_or(0)));
            }
            if adjust < 0 && kind != AdjustmentType::Unknown {
                prop_assert!(n >= min.unwrap_or(0));
            }
        }

        #[test]
        fn ticks_never_panic(
            card in extreme(), min in prop::option::of(-5i64..10), max in prop::option::of(-5i64..10),
            period in extreme(), period_number in extreme(), adjust in extreme(), kind in kind(),
            start in prop::option::of("[0-9T:\\- Z+]{0,24}"), recurrence in prop::option::of("[0-9*/,\\- a-z@]{0,20}"),
            times in prop::collection::vec(extreme(), 1..8), answers in prop::collection::vec(any::<bool>(), 8),
        ) {
            let mut r: Autoscaler<'_, 2, 64> = Autoscaler::new(Bounds { cardinality: card, min_vms: min, max_vms: max }, None, 300);
            let adj = Adjustment { kind, adjust, min_adjust_step: 1 };
            let p = ElasticityPolicy { expression: Some("X"), adjustment: adj, period, period_number, cooldown: None };
            prop_assert!(r.add_elasticity(p, ElasticityState::default()).is_ok());
            if let Ok(schedule) = Schedule::from_fields(start.as_deref(), recurrence.as_deref()) {
                let s = ScheduledPolicy { adjustment: Some(adj), schedule, cooldown: Some(1) };
                prop_assert!(r.add_scheduled(s, ScheduledState::default()).is_ok());
            }
            let mut ev = Script { answers: &answers, calls: 0, fail_at: None };
            for t in times {
                let _ = r.tick(t, true, &mut ev);
            }
        }
    }
}
