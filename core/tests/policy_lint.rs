//! Lint: each check fires on its anti-pattern, with its id, severity and path,
//! and stays quiet on a good Flower role.

use stamen_core::policy::lint::{
    lint_role, FieldRef, Finding, LintId, LintOptions, LintRole, LintScheduled, Location, RoleRef,
    Severity,
};
use stamen_core::policy::time::TimeError;
use stamen_core::policy::{Adjustment, AdjustmentType, ElasticityPolicy, Schedule};

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

fn good_policies() -> [ElasticityPolicy<'static>; 2] {
    [
        policy(
            "FL_TRAINING_ACTIVE > 0.8 && (CPU > 80 || FL_CLIENT_STATUS > 1.5)",
            1,
            60,
            3,
            Some(300),
        ),
        policy("FL_TRAINING_ACTIVE < 0.2", -1, 60, 10, Some(600)),
    ]
}

fn run(role: &LintRole<'_>, opts: &LintOptions<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    lint_role(RoleRef::Index(1), role, opts, &mut |f| out.push(f.clone()));
    out
}

fn opts() -> LintOptions<'static> {
    LintOptions {
        min_fit_clients: Some(2),
        round_seconds: Some(120),
        extra_attributes: &[],
    }
}

fn base<'a>(
    elasticity: &'a [ElasticityPolicy<'a>],
    scheduled: &'a [LintScheduled],
) -> LintRole<'a> {
    LintRole {
        name: Some("supernode"),
        cardinality: 2,
        min_vms: Some(2),
        max_vms: Some(6),
        cooldown: None,
        elasticity,
        scheduled,
    }
}

fn ids(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|f| f.id.code()).collect()
}

#[test]
fn good_role_is_clean() {
    let p = good_policies();
    assert_eq!(run(&base(&p, &[]), &opts()), vec![]);
}

#[test]
fn min_vms_below_fit_clients() {
    let p = good_policies();
    let mut r = base(&p, &[]);
    r.min_vms = Some(1);
    let f = run(&r, &opts());
    assert_eq!(ids(&f), ["STAMEN-L001"]);
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].location.to_string(), "$.roles[1].min_vms");
    // Without the option the check is off.
    assert_eq!(
        run(
            &r,
            &LintOptions {
                min_fit_clients: None,
                ..opts()
            }
        ),
        vec![]
    );
}

#[test]
fn superlink_with_policies() {
    let p = [policy("CPU > 90", 1, 0, 0, None)];
    let mut r = base(&p, &[]);
    r.name = Some("superlink");
    r.min_vms = Some(1);
    r.max_vms = Some(1);
    r.cardinality = 1;
    let f = run(&r, &opts());
    assert_eq!(ids(&f), ["STAMEN-L002"]);
    assert_eq!(f[0].location.to_string(), "$.roles[1].elasticity_policies");
}

#[test]
fn short_scale_down_cooldown_and_fast_scale_down() {
    let p = [
        policy("FL_TRAINING_ACTIVE > 0.5", 1, 60, 3, Some(300)),
        policy("FL_TRAINING_ACTIVE < 0.5", -1, 30, 1, Some(60)),
    ];
    let f = run(&base(&p, &[]), &opts());
    assert_eq!(ids(&f), ["STAMEN-L003", "STAMEN-L004"]);
    assert_eq!(
        f[0].location.to_string(),
        "$.roles[1].elasticity_policies[1].cooldown"
    );
    assert_eq!(
        f[1].location.to_string(),
        "$.roles[1].elasticity_policies[1].period_number"
    );
    assert!(f.iter().all(|f| f.severity == Severity::Warning));
    // The role cooldown (or 300) applies when the policy has none.
    let p2 = [policy("FL_TRAINING_ACTIVE < 0.5", -1, 60, 10, None)];
    let f2 = run(
        &base(&p2, &[]),
        &LintOptions {
            round_seconds: Some(200),
            ..opts()
        },
    );
    assert_eq!(ids(&f2), ["STAMEN-L003"]);
    assert_eq!(
        f2[0].location.to_string(),
        "$.roles[1].elasticity_policies[0]"
    );
}

#[test]
fn expression_anti_patterns() {
    let p = [policy(
        "FL_CLIENT_STATUS == \"TRAINING\" && CPU > 80 || FL_NODE_READY == 1",
        1,
        60,
        3,
        Some(300),
    )];
    let f = run(&base(&p, &[]), &opts());
    assert_eq!(
        ids(&f),
        ["STAMEN-L019", "STAMEN-L005", "STAMEN-L006", "STAMEN-L016"]
    );
    assert!(f[1].message.contains("TRAINING"), "{}", f[1].message);
    assert_eq!(
        f[1].location.to_string(),
        "$.roles[1].elasticity_policies[0].expression"
    );
    // Parenthesised mixing is fine; lower-case names are looked up upper-cased.
    let ok = [policy(
        "(cpu > 80 && memory > 1) || FL_ROUND_NUMBER > 3",
        1,
        60,
        3,
        Some(300),
    )];
    assert_eq!(run(&base(&ok, &[]), &opts()), vec![]);
}

#[test]
fn equality_on_an_averaged_status() {
    for expr in [
        "FL_CLIENT_STATUS == 2",
        "2 = fl_training_active",
        "CPU > 1 && FL_TRAINING_ACTIVE = 1",
    ] {
        let p = [policy(expr, 1, 60, 3, Some(300))];
        let f = run(&base(&p, &[]), &opts());
        assert_eq!(ids(&f), ["STAMEN-L019"], "{expr}");
        assert_eq!(f[0].severity, Severity::Info);
    }
    for expr in [
        "FL_CLIENT_STATUS != 3",
        "FL_CLIENT_STATUS >= 2",
        "FL_ROUND_NUMBER == 3",
        "FL_TRAINING_ACTIVE <> 0",
    ] {
        let p = [policy(expr, 1, 60, 3, Some(300))];
        assert_eq!(run(&base(&p, &[]), &opts()), vec![], "{expr}");
    }
}

#[test]
fn parse_errors_unknown_attributes_and_empty_expressions() {
    let p = [
        policy("CPU >> 80", 1, 60, 3, Some(300)),
        policy("FL_TRAINING_ACTVE < 1", 1, 60, 3, Some(300)),
        policy("", 1, 60, 3, Some(300)),
        policy("MY_METRIC > 1", 1, 60, 3, Some(300)),
    ];
    let f = run(&base(&p, &[]), &opts());
    assert_eq!(
        ids(&f),
        ["STAMEN-L008", "STAMEN-L009", "STAMEN-L010", "STAMEN-L009"]
    );
    assert!(f[0].message.contains("column 6"), "{}", f[0].message);
    assert!(f[1].message.contains("FL_TRAINING_ACTVE"));
    let known = LintOptions {
        extra_attributes: &["my_metric"],
        ..opts()
    };
    assert_eq!(
        ids(&run(&base(&p, &[]), &known)),
        ["STAMEN-L008", "STAMEN-L009", "STAMEN-L010"]
    );
}

#[test]
fn role_level_checks() {
    let p = good_policies();
    let mut r = base(&p, &[]);
    r.max_vms = None;
    assert_eq!(ids(&run(&r, &opts())), ["STAMEN-L007"]);
    r.max_vms = Some(1);
    let f = run(&r, &opts());
    assert_eq!(ids(&f), ["STAMEN-L013", "STAMEN-L018"]);
    assert_eq!(
        f[0].location,
        Location {
            role: RoleRef::Index(1),
            field: FieldRef::RoleKey("min_vms")
        }
    );
}

#[test]
fn policy_types_and_adjust() {
    let mut unknown = policy("CPU > 1", 1, 60, 3, Some(300));
    unknown.adjustment.kind = AdjustmentType::Unknown;
    let mut missing = policy("CPU > 1", 1, 60, 3, Some(300));
    missing.adjustment.kind = AdjustmentType::Missing;
    let zero = policy("CPU > 1", 0, 60, 3, Some(300));
    let mut card = policy("CPU > 1", 9, 60, 3, Some(300));
    card.adjustment.kind = AdjustmentType::Cardinality;
    let p = [unknown, missing, zero, card];
    let f = run(&base(&p, &[]), &opts());
    assert_eq!(
        ids(&f),
        ["STAMEN-L011", "STAMEN-L011", "STAMEN-L012", "STAMEN-L014"]
    );
    assert_eq!(
        f[0].location.to_string(),
        "$.roles[1].elasticity_policies[0].type"
    );
    assert_eq!(
        f[2].location.to_string(),
        "$.roles[1].elasticity_policies[2].adjust"
    );
}

#[test]
fn scheduled_policies_that_never_fire() {
    let card = Some(Adjustment {
        kind: AdjustmentType::Cardinality,
        adjust: 4,
        min_adjust_step: 0,
    });
    let s = [
        LintScheduled {
            adjustment: card,
            schedule: Schedule::from_fields(None, Some("*/0 * * * *")),
            cooldown: None,
        },
        LintScheduled {
            adjustment: card,
            schedule: Err(TimeError::Unsupported),
            cooldown: None,
        },
        LintScheduled {
            adjustment: None,
            schedule: Schedule::from_fields(Some("1700000000"), None),
            cooldown: None,
        },
        LintScheduled {
            adjustment: card,
            schedule: Schedule::from_fields(None, Some("0 8 * * mon-fri")),
            cooldown: None,
        },
    ];
    let p = good_policies();
    let f = run(&base(&p, &s), &opts());
    assert_eq!(ids(&f), ["STAMEN-L015", "STAMEN-L015", "STAMEN-L015"]);
    let paths: Vec<String> = f.iter().map(|f| f.location.to_string()).collect();
    assert_eq!(
        paths,
        [
            "$.roles[1].scheduled_policies[0].recurrence",
            "$.roles[1].scheduled_policies[1].start_time",
            "$.roles[1].scheduled_policies[2].adjust"
        ]
    );
}

#[test]
fn period_number_without_period_is_info() {
    let p = [
        policy("CPU > 80", 1, 0, 3, Some(300)),
        policy("CPU < 10", -1, 0, 5, Some(600)),
    ];
    let f = run(&base(&p, &[]), &opts());
    assert_eq!(ids(&f), ["STAMEN-L017", "STAMEN-L017"]);
    assert!(f.iter().all(|f| f.severity == Severity::Info));
    assert_eq!(LintId::PeriodNumberWithoutPeriod.code(), "STAMEN-L017");
}

#[test]
fn single_role_paths_start_at_the_root() {
    let p = [policy("CPU >> 1", 1, 60, 3, Some(300))];
    let mut out = Vec::new();
    lint_role(RoleRef::Root, &base(&p, &[]), &opts(), &mut |f| {
        out.push(f.location.to_string())
    });
    assert_eq!(out, ["$.elasticity_policies[0].expression"]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lint_never_panics(
            expr in "\\PC{0,60}",
            name in prop::option::of("(superlink|supernode|\\PC{0,8})"),
            card in any::<i64>(), min in prop::option::of(any::<i64>()), max in prop::option::of(any::<i64>()),
            adjust in any::<i64>(), period in any::<i64>(), period_number in any::<i64>(),
            cooldown in prop::option::of(any::<i64>()), round in prop::option::of(any::<i64>()),
            fit in prop::option::of(any::<i64>()), recurrence in "\\PC{0,20}",
        ) {
            let kinds = [AdjustmentType::Change, AdjustmentType::Cardinality, AdjustmentType::PercentageChange];
            let p: Vec<ElasticityPolicy<'_>> = kinds
                .iter()
                .map(|k| ElasticityPolicy {
                    expression: Some(expr.as_str()),
                    adjustment: Adjustment { kind: *k, adjust, min_adjust_step: 0 },
                    period,
                    period_number,
                    cooldown,
                })
                .collect();
            let s = [LintScheduled {
                adjustment: Some(change(adjust)),
                schedule: Schedule::from_fields(None, Some(&recurrence)),
                cooldown,
            }];
            let role = LintRole { name: name.as_deref(), cardinality: card, min_vms: min, max_vms: max, cooldown, elasticity: &p, scheduled: &s };
            let opts = LintOptions { min_fit_clients: fit, round_seconds: round, extra_attributes: &["X"] };
            let mut n = 0;
            lint_role(RoleRef::Root, &role, &opts, &mut |f| { n += 1; assert!(!f.fix.is_empty()); });
            prop_assert!(n < 1000);
        }
    }
}
