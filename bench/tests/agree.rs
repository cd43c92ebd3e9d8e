//! The peers are only timed on inputs where they give the same answer as
//! stamen: these tests check that agreement before any figure is trusted.

use std::collections::BTreeMap;

use stamen_bench::exprs::{evalexpr_context, stamen_resolver, values, CASES};
use stamen_bench::{context_sh, context_vars, expected_vars, vector_path, SAMPLES};
use stamen_core::context::{collect, Dialect};
use stamen_core::expr::Expr;

fn dotenvy_vars(text: &str) -> Result<BTreeMap<String, String>, String> {
    dotenvy::from_read_iter(text.as_bytes())
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

fn stamen_vars(text: &str) -> BTreeMap<String, String> {
    let mut scratch = vec![0u8; text.len()];
    let c = collect::<4096, 8>(text.as_bytes(), Dialect::ContextSh, &mut scratch);
    assert!(c.errors().is_empty(), "{:?}", c.errors());
    c.vars()
        .iter()
        .map(|v| (v.key.to_string(), v.value.to_string()))
        .collect()
}

#[test]
fn both_parsers_read_the_real_samples_exactly() {
    for s in SAMPLES {
        let text = std::fs::read_to_string(vector_path(s, "context.sh")).unwrap();
        let want = expected_vars(s).unwrap();
        assert_eq!(stamen_vars(&text), want, "stamen on {s}");
        assert_eq!(dotenvy_vars(&text).unwrap(), want, "dotenvy on {s}");
    }
}

#[test]
fn both_parsers_read_the_generated_files_exactly() {
    for size in [4 * 1024, 64 * 1024] {
        let want = context_vars(size).unwrap();
        let text = context_sh(size).unwrap();
        assert!(
            text.len() >= size && text.len() < size + 512,
            "{}",
            text.len()
        );
        assert_eq!(stamen_vars(&text), want, "stamen, {size} bytes");
        assert_eq!(dotenvy_vars(&text).unwrap(), want, "dotenvy, {size} bytes");
    }
}

#[test]
fn generated_files_are_deterministic() {
    assert_eq!(context_sh(4096).unwrap(), context_sh(4096).unwrap());
}

#[test]
fn both_evaluators_agree_on_every_case() {
    let ctx = evalexpr_context();
    for case in CASES {
        let ours = Expr::<'_, 64>::parse(case.expr)
            .unwrap()
            .eval(&mut stamen_resolver(&values()))
            .unwrap();
        let theirs = evalexpr::eval_boolean_with_context(case.expr, &ctx).unwrap();
        assert_eq!(ours, case.expected, "stamen on {}", case.expr);
        assert_eq!(theirs, case.expected, "evalexpr on {}", case.expr);
    }
}

#[test]
fn policy_pass_evaluates_all_ten_policies_every_time() {
    use stamen_bench::policy_fixture::{autoscaler, expressions, vms, VmsEval};
    use stamen_core::policy::Trace;
    let vms = vms(100);
    let exprs = expressions(10);
    let mut scaler = autoscaler(&exprs);
    let mut eval = VmsEval { vms: &vms };
    for now in 1..=3 {
        let d = scaler.scale(now, &mut eval).unwrap();
        assert_eq!(d.diff, 0);
        for e in &scaler.elasticity {
            assert_eq!(e.state.last_eval, Some(now));
            let Trace::Text(t) = &e.state.expression_evaluated else {
                panic!("no trace for {:?}", e.policy.expression)
            };
            assert!(t.contains('['), "{t}");
        }
    }
}
