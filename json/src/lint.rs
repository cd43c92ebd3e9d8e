//! stamen's policy lints (`STAMEN-L…`, `stamen_core::policy::lint`) over roles
//! read with [`crate::policydoc`]: what `stamen policy lint` and the Python
//! `lint_policy` both run.

use serde_json::Value;
use stamen_core::policy::lint::{
    lint_role, Finding, LintOptions, LintRole, LintScheduled, RoleRef,
};
use stamen_core::policy::ElasticityPolicy;

use crate::policydoc::{roles_of, root_path, DocError, RoleDoc};

/// Lints `roles` in order, calling `found` with each finding. `service` tells
/// whether they came from a service's `roles` array (findings at
/// `$.roles[i]…`) or are a single role (findings at `$…`); paths are relative
/// to the service body.
pub fn lint_roles(
    roles: &[RoleDoc],
    service: bool,
    opts: &LintOptions<'_>,
    found: &mut dyn FnMut(&Finding),
) {
    for (i, r) in roles.iter().enumerate() {
        let elasticity: Vec<ElasticityPolicy<'_>> = r
            .elasticity
            .iter()
            .flatten()
            .map(|p| ElasticityPolicy {
                expression: p.expression.as_deref(),
                adjustment: p.adjustment,
                period: p.period,
                period_number: p.period_number,
                cooldown: p.cooldown,
            })
            .collect();
        let scheduled: Vec<LintScheduled> = r
            .scheduled
            .iter()
            .flatten()
            .map(|s| LintScheduled {
                adjustment: s.adjustment,
                schedule: s.schedule,
                cooldown: s.cooldown,
            })
            .collect();
        let lr = LintRole {
            name: r.name.as_deref(),
            cardinality: r.cardinality,
            min_vms: r.min_vms,
            max_vms: r.max_vms,
            cooldown: r.cooldown,
            elasticity: &elasticity,
            scheduled: &scheduled,
        };
        let rref = if service {
            RoleRef::Index(i)
        } else {
            RoleRef::Root
        };
        lint_role(rref, &lr, opts, found);
    }
}

/// Whether `doc` is a service (has `roles`, possibly under
/// `DOCUMENT.TEMPLATE.BODY`) rather than a single role.
pub fn is_service(doc: &Value) -> bool {
    doc.get("roles").is_some() || doc.pointer("/DOCUMENT/TEMPLATE/BODY/roles").is_some()
}

/// Lints a parsed document; returns the findings in document order, each with
/// its JSON path in `doc` (under `$.DOCUMENT.TEMPLATE.BODY` for a wrapped
/// OneFlow document). `known` are extra attribute names the expressions may
/// read (any case).
///
/// # Errors
/// When the document cannot be read the way OneFlow reads it (see
/// [`crate::policydoc::roles_of`]).
pub fn lint_document(
    doc: &Value,
    min_fit_clients: Option<i64>,
    round_seconds: Option<i64>,
    known: &[String],
) -> Result<Vec<(String, Finding)>, DocError> {
    let roles = roles_of(doc)?;
    let root = root_path(doc);
    let extra: Vec<String> = known.iter().map(|k| k.to_ascii_uppercase()).collect();
    let extra_refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let opts = LintOptions {
        min_fit_clients,
        round_seconds,
        extra_attributes: &extra_refs,
    };
    let mut findings = Vec::new();
    lint_roles(&roles, is_service(doc), &opts, &mut |f| {
        let path = f.location.to_string();
        let path = format!("{root}{}", path.strip_prefix('$').unwrap_or(&path));
        findings.push((path, f.clone()));
    });
    Ok(findings)
}
