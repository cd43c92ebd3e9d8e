//! Lints for OneFlow roles running Flower: the seed's anti-patterns (SPEC §7)
//! and a few more, each with a stable id, a severity, the JSON path of the
//! offending field and a one-line fix.
//!
//! | id | severity | finding |
//! |---|---|---|
//! | STAMEN-L001 | error | `min_vms` below FL_MIN_FIT_CLIENTS (rounds cannot start) |
//! | STAMEN-L002 | error | policies (or `max_vms` > 1) on the `superlink` role |
//! | STAMEN-L003 | warning | scale-down cooldown shorter than 2 × round duration |
//! | STAMEN-L004 | warning | scale-down needs less time than scale-up (flapping) |
//! | STAMEN-L005 | error | quoted name in an expression (never found: always false) |
//! | STAMEN-L006 | warning | `&&` and `\|\|` mixed without parentheses |
//! | STAMEN-L007 | warning | no `max_vms`: scale-up policies can never add a VM |
//! | STAMEN-L008 | error | expression does not parse |
//! | STAMEN-L009 | warning | attribute no VM publishes |
//! | STAMEN-L010 | warning | empty expression (never true) |
//! | STAMEN-L011 | error | unknown or missing policy `type` |
//! | STAMEN-L012 | warning | `adjust` 0 (no-op, or surprising for PERCENTAGE_CHANGE/CARDINALITY) |
//! | STAMEN-L013 | error | `min_vms` greater than `max_vms` |
//! | STAMEN-L014 | warning | CARDINALITY target outside `[min_vms, max_vms]` |
//! | STAMEN-L015 | error | scheduled policy that can never fire (bad `start_time`/`recurrence`, no `adjust`) |
//! | STAMEN-L016 | warning | string-valued FL attribute compared as a number (reads as 0) |
//! | STAMEN-L017 | info | `period_number` > 1 with `period` 0 (counts OneFlow passes, not seconds) |
//! | STAMEN-L018 | warning | role `cardinality` outside `[min_vms, max_vms]` |
//! | STAMEN-L019 | info | `==` on FL_CLIENT_STATUS / FL_TRAINING_ACTIVE: an average equals a status only when every VM has it |

use core::fmt::{self, Write as _};

use heapless::String;

use super::cardinality::{Adjustment, AdjustmentType};
use super::engine::{ElasticityPolicy, DEFAULT_COOLDOWN};
use super::schedule::{Inert, Schedule};
use super::time::TimeError;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; nothing breaks.
    Info,
    /// Probably not what was meant.
    Warning,
    /// The policy cannot work as intended.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Stable lint identifiers (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LintId {
    /// STAMEN-L001: `min_vms` below FL_MIN_FIT_CLIENTS.
    MinBelowFitClients,
    /// STAMEN-L002: scaling the `superlink` role.
    SuperlinkScaling,
    /// STAMEN-L003: scale-down cooldown shorter than two rounds.
    ShortScaleDownCooldown,
    /// STAMEN-L004: scale-down reacts faster than scale-up.
    ScaleDownFasterThanUp,
    /// STAMEN-L005: quoted name in an expression.
    QuotedName,
    /// STAMEN-L006: `&&`/`||` mixed without parentheses.
    MixedAndOr,
    /// STAMEN-L007: missing `max_vms`.
    MissingMaxVms,
    /// STAMEN-L008: expression does not parse.
    ParseError,
    /// STAMEN-L009: attribute no VM publishes.
    UnknownAttribute,
    /// STAMEN-L010: empty expression.
    EmptyExpression,
    /// STAMEN-L011: unknown or missing `type`.
    BadType,
    /// STAMEN-L012: `adjust` 0.
    ZeroAdjust,
    /// STAMEN-L013: `min_vms` > `max_vms`.
    MinAboveMax,
    /// STAMEN-L014: CARDINALITY target outside the bounds.
    CardinalityOutOfBounds,
    /// STAMEN-L015: scheduled policy that never fires.
    InertSchedule,
    /// STAMEN-L016: string-valued FL attribute compared as a number.
    StringFlAttribute,
    /// STAMEN-L017: `period_number` without `period`.
    PeriodNumberWithoutPeriod,
    /// STAMEN-L018: role cardinality outside its bounds.
    CardinalityOutsideBounds,
    /// STAMEN-L019: `==` on an averaged FL status.
    EqualityOnAverage,
}

impl LintId {
    /// The stable code, e.g. `STAMEN-L001`.
    pub const fn code(self) -> &'static str {
        match self {
            LintId::MinBelowFitClients => "STAMEN-L001",
            LintId::SuperlinkScaling => "STAMEN-L002",
            LintId::ShortScaleDownCooldown => "STAMEN-L003",
            LintId::ScaleDownFasterThanUp => "STAMEN-L004",
            LintId::QuotedName => "STAMEN-L005",
            LintId::MixedAndOr => "STAMEN-L006",
            LintId::MissingMaxVms => "STAMEN-L007",
            LintId::ParseError => "STAMEN-L008",
            LintId::UnknownAttribute => "STAMEN-L009",
            LintId::EmptyExpression => "STAMEN-L010",
            LintId::BadType => "STAMEN-L011",
            LintId::ZeroAdjust => "STAMEN-L012",
            LintId::MinAboveMax => "STAMEN-L013",
            LintId::CardinalityOutOfBounds => "STAMEN-L014",
            LintId::InertSchedule => "STAMEN-L015",
            LintId::StringFlAttribute => "STAMEN-L016",
            LintId::PeriodNumberWithoutPeriod => "STAMEN-L017",
            LintId::CardinalityOutsideBounds => "STAMEN-L018",
            LintId::EqualityOnAverage => "STAMEN-L019",
        }
    }
}

/// Which role a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleRef {
    /// The document is a single role (`$`).
    Root,
    /// Role `i` of a service template (`$.roles[i]`).
    Index(usize),
}

/// Which field a finding points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRef {
    /// The role object itself.
    Role,
    /// A key of the role (`min_vms`, `elasticity_policies`, …).
    RoleKey(&'static str),
    /// Elasticity policy `i`, optionally one of its keys.
    Elasticity(usize, Option<&'static str>),
    /// Scheduled policy `i`, optionally one of its keys.
    Scheduled(usize, Option<&'static str>),
}

/// A JSON path such as `$.roles[1].elasticity_policies[0].expression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The role.
    pub role: RoleRef,
    /// The field.
    pub field: FieldRef,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        if let RoleRef::Index(i) = self.role {
            write!(f, ".roles[{i}]")?;
        }
        match self.field {
            FieldRef::Role => Ok(()),
            FieldRef::RoleKey(k) => write!(f, ".{k}"),
            FieldRef::Elasticity(i, key) => {
                write!(f, ".elasticity_policies[{i}]")?;
                key.map_or(Ok(()), |k| write!(f, ".{k}"))
            }
            FieldRef::Scheduled(i, key) => {
                write!(f, ".scheduled_policies[{i}]")?;
                key.map_or(Ok(()), |k| write!(f, ".{k}"))
            }
        }
    }
}

/// Capacity of a finding's message.
pub const MESSAGE_CAPACITY: usize = 192;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable id.
    pub id: LintId,
    /// Severity.
    pub severity: Severity,
    /// Where.
    pub location: Location,
    /// What is wrong (specific to this occurrence; long names are cut with `…`).
    pub message: String<MESSAGE_CAPACITY>,
    /// How to fix it, one line.
    pub fix: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}: {} (fix: {})",
            self.severity.as_str(),
            self.id.code(),
            self.location,
            self.message,
            self.fix
        )
    }
}

/// A scheduled policy as lint sees it (its schedule may have failed to read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintScheduled {
    /// Type/adjust; `None` when `adjust` is missing.
    pub adjustment: Option<Adjustment>,
    /// The timing, or why `start_time` could not be read.
    pub schedule: Result<Schedule, TimeError>,
    /// `cooldown`.
    pub cooldown: Option<i64>,
}

/// A role as lint sees it.
#[derive(Debug, Clone, Copy)]
pub struct LintRole<'a> {
    /// `name`.
    pub name: Option<&'a str>,
    /// `cardinality`.
    pub cardinality: i64,
    /// `min_vms`.
    pub min_vms: Option<i64>,
    /// `max_vms`.
    pub max_vms: Option<i64>,
    /// `cooldown`.
    pub cooldown: Option<i64>,
    /// Elasticity policies.
    pub elasticity: &'a [ElasticityPolicy<'a>],
    /// Scheduled policies.
    pub scheduled: &'a [LintScheduled],
}

/// Lint settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct LintOptions<'a> {
    /// FL_MIN_FIT_CLIENTS of the Flower app, when known.
    pub min_fit_clients: Option<i64>,
    /// Duration of one training round in seconds, when known.
    pub round_seconds: Option<i64>,
    /// Attributes VMs publish besides [`KNOWN_ATTRIBUTES`] (any case).
    pub extra_attributes: &'a [&'a str],
}

/// Nodes an expression may have for the syntax check.
const EXPR_NODES: usize = 256;

/// Attributes a role's VMs are known to have: stamen's FL attributes
/// (SPEC §4) and what OpenNebula monitoring / the VM template provide.
pub const KNOWN_ATTRIBUTES: &[&str] = &[
    "FL_CLIENT_STATUS",
    "FL_TRAINING_ACTIVE",
    "FL_ROUND_NUMBER",
    "FL_NODE_READY",
    "FL_NODE_ID",
    "FL_VERSION",
    "CPU",
    "MEMORY",
    "VCPU",
    "NETRX",
    "NETTX",
    "NETRX_BW",
    "NETTX_BW",
    "DISKRDBYTES",
    "DISKWRBYTES",
    "DISKRDIOPS",
    "DISKWRIOPS",
    "DISKRDBYTES_BW",
    "DISKWRBYTES_BW",
    "DISKRDIOPS_BW",
    "DISKWRIOPS_BW",
    "GUEST_IP",
    "ID",
    "UID",
    "GID",
    "STATE",
    "LCM_STATE",
    "RESCHED",
    "STIME",
    "ETIME",
    "PREV_STATE",
    "PREV_LCM_STATE",
];

/// FL attributes whose average is compared with `==` in the seed's policies.
const AVERAGED_STATUS: &[&str] = &["FL_CLIENT_STATUS", "FL_TRAINING_ACTIVE"];

/// FL attributes whose values are strings (`YES`, a VM id, a version): OneFlow
/// averages them through `to_f`, so `YES` reads as 0.
const STRING_FL_ATTRIBUTES: &[&str] = &["FL_NODE_READY", "FL_VERSION"];

fn message(args: fmt::Arguments<'_>) -> String<MESSAGE_CAPACITY> {
    let mut s = String::new();
    if s.write_fmt(args).is_err() {
        // Cut at a character boundary and mark the cut.
        while s.len() > MESSAGE_CAPACITY - '…'.len_utf8() {
            s.pop();
        }
        let _ = s.push('…');
    }
    s
}

/// A name shortened for messages.
struct Short<'a>(&'a str);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 48;
        if self.0.len() <= MAX {
            return f.write_str(self.0);
        }
        let mut end = MAX;
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        write!(f, "{}…", self.0.get(..end).unwrap_or(""))
    }
}

fn is_superlink(name: Option<&str>) -> bool {
    name.is_some_and(|n| n.eq_ignore_ascii_case("superlink"))
}

/// The direction a policy moves the cardinality: +1, -1 or 0 (unknown).
fn direction(adj: &Adjustment, role: &LintRole<'_>) -> i64 {
    match adj.kind {
        AdjustmentType::Change | AdjustmentType::PercentageChange => adj.adjust.signum(),
        AdjustmentType::Cardinality => adj.adjust.saturating_sub(role.cardinality).signum(),
        _ => 0,
    }
}

/// Seconds a policy needs to trigger: period × max(period_number, 1).
fn reaction_seconds(p: &ElasticityPolicy<'_>) -> i64 {
    p.period.max(0).saturating_mul(p.period_number.max(1))
}

/// Lints one role, calling `out` for every finding (in a stable order).
pub fn lint_role(
    role_ref: RoleRef,
    role: &LintRole<'_>,
    opts: &LintOptions<'_>,
    out: &mut dyn FnMut(&Finding),
) {
    let at = |field| Location {
        role: role_ref,
        field,
    };
    let mut emit = |id: LintId,
                    severity: Severity,
                    field: FieldRef,
                    msg: String<MESSAGE_CAPACITY>,
                    fix: &'static str| {
        out(&Finding {
            id,
            severity,
            location: at(field),
            message: msg,
            fix,
        });
    };
    let superlink = is_superlink(role.name);
    let has_policies = !role.elasticity.is_empty() || !role.scheduled.is_empty();

    // Role-level checks.
    if let (Some(min), Some(max)) = (role.min_vms, role.max_vms) {
        if min > max {
            emit(
                LintId::MinAboveMax,
                Severity::Error,
                FieldRef::RoleKey("min_vms"),
                message(format_args!("min_vms {min} is greater than max_vms {max}")),
                "make min_vms <= max_vms",
            );
        }
    }
    let min = role.min_vms.unwrap_or(0);
    if role.cardinality < min || role.max_vms.is_some_and(|max| role.cardinality > max) {
        emit(
            LintId::CardinalityOutsideBounds,
            Severity::Warning,
            FieldRef::RoleKey("cardinality"),
            message(format_args!(
                "cardinality {} is outside [min_vms {}, max_vms {}]",
                role.cardinality,
                min,
                role.max_vms.map_or(i64::MAX, |m| m)
            )),
            "start the role inside its bounds; OneFlow only moves it towards them",
        );
    }
    if superlink {
        if has_policies || role.max_vms.is_some_and(|m| m > 1) {
            let field = if !role.elasticity.is_empty() {
                FieldRef::RoleKey("elasticity_policies")
            } else if !role.scheduled.is_empty() {
                FieldRef::RoleKey("scheduled_policies")
            } else {
                FieldRef::RoleKey("max_vms")
            };
            emit(
                LintId::SuperlinkScaling,
                Severity::Error,
                field,
                message(format_args!(
                    "the superlink role can scale: a second SuperLink splits the federation and scaling down loses its state"
                )),
                "remove the policies from the superlink role and keep cardinality = min_vms = max_vms = 1",
            );
        }
    } else if let Some(fit) = opts.min_fit_clients {
        if min < fit && (has_policies || role.min_vms.is_some()) {
            let field = if role.min_vms.is_some() {
                FieldRef::RoleKey("min_vms")
            } else {
                FieldRef::Role
            };
            emit(
                LintId::MinBelowFitClients,
                Severity::Error,
                field,
                message(format_args!(
                    "min_vms {min} is below FL_MIN_FIT_CLIENTS {fit}: scaling down stalls every training round"
                )),
                "set min_vms to at least FL_MIN_FIT_CLIENTS",
            );
        }
    }
    let scales_up = role
        .elasticity
        .iter()
        .map(|p| p.adjustment)
        .chain(role.scheduled.iter().filter_map(|s| s.adjustment))
        .any(|a| {
            matches!(
                a.kind,
                AdjustmentType::Change | AdjustmentType::PercentageChange
            ) && a.adjust > 0
        });
    if role.max_vms.is_none() && scales_up && !superlink {
        emit(
            LintId::MissingMaxVms,
            Severity::Warning,
            FieldRef::Role,
            message(format_args!(
                "no max_vms: OneFlow caps scale-up at max(cardinality, max_vms or 0), so the role never grows"
            )),
            "set max_vms to the largest number of clients you want",
        );
    }

    // Policies.
    let role_cooldown = role.cooldown.unwrap_or(DEFAULT_COOLDOWN);
    for (i, p) in role.elasticity.iter().enumerate() {
        adjustment_checks(
            role,
            &p.adjustment,
            FieldRef::Elasticity(i, None),
            &mut emit,
        );
        match p.expression.filter(|e| !e.is_empty()) {
            None => emit(
                LintId::EmptyExpression,
                Severity::Warning,
                FieldRef::Elasticity(i, Some("expression")),
                message(format_args!("empty expression: the policy never triggers")),
                "write an expression such as FL_CLIENT_STATUS == 2",
            ),
            Some(expr) => expression_checks(expr, i, opts, &mut emit),
        }
        if p.period_number > 1 && p.period <= 0 {
            emit(
                LintId::PeriodNumberWithoutPeriod,
                Severity::Info,
                FieldRef::Elasticity(i, Some("period")),
                message(format_args!(
                    "period_number {} with period 0 counts OneFlow passes (every 30 s by default), not seconds",
                    p.period_number
                )),
                "set period (seconds between evaluations)",
            );
        }
        if direction(&p.adjustment, role) < 0 {
            let cooldown = p.cooldown.unwrap_or(role_cooldown);
            if let Some(round) = opts.round_seconds {
                if cooldown < round.saturating_mul(2) {
                    let field = if p.cooldown.is_some() {
                        FieldRef::Elasticity(i, Some("cooldown"))
                    } else {
                        FieldRef::Elasticity(i, None)
                    };
                    emit(
                        LintId::ShortScaleDownCooldown,
                        Severity::Warning,
                        field,
                        message(format_args!(
                            "scale-down cooldown {cooldown} s is shorter than two rounds ({} s): clients leave mid-round",
                            round.saturating_mul(2)
                        )),
                        "set the policy's cooldown to at least 2 x the round duration",
                    );
                }
            }
            let down = reaction_seconds(p);
            let faster_up = role
                .elasticity
                .iter()
                .filter(|q| direction(&q.adjustment, role) > 0)
                .map(reaction_seconds)
                .filter(|up| down < *up)
                .max();
            if let Some(up) = faster_up {
                emit(
                    LintId::ScaleDownFasterThanUp,
                    Severity::Warning,
                    FieldRef::Elasticity(i, Some("period_number")),
                    message(format_args!(
                        "scale-down triggers after {down} s but scale-up needs {up} s: the role flaps"
                    )),
                    "make scale-down need at least as many periods (period x period_number) as scale-up",
                );
            }
        }
    }
    for (i, s) in role.scheduled.iter().enumerate() {
        match s.adjustment {
            None => emit(
                LintId::InertSchedule,
                Severity::Error,
                FieldRef::Scheduled(i, Some("adjust")),
                message(format_args!(
                    "no adjust: OneFlow ignores this scheduled policy"
                )),
                "set adjust",
            ),
            Some(adj) => adjustment_checks(role, &adj, FieldRef::Scheduled(i, None), &mut emit),
        }
        match s.schedule {
            Err(e) => emit(
                LintId::InertSchedule,
                Severity::Error,
                FieldRef::Scheduled(i, Some("start_time")),
                message(format_args!("{e}")),
                "use epoch seconds or ISO-8601 such as 2025-06-01T08:00:00Z",
            ),
            Ok(Schedule::Crash(e)) => emit(
                LintId::InertSchedule,
                Severity::Error,
                FieldRef::Scheduled(i, None),
                message(format_args!(
                    "OneFlow crashes on every pass: {}: {}",
                    e.class, e.message
                )),
                "write start_time and recurrence as strings",
            ),
            Ok(Schedule::Never(inert)) => {
                let key = match inert {
                    Inert::Cron(_) => "recurrence",
                    _ => "start_time",
                };
                emit(
                    LintId::InertSchedule,
                    Severity::Error,
                    FieldRef::Scheduled(i, Some(key)),
                    message(format_args!("never fires: {inert}")),
                    "use a 5-field cron (minute hour day month weekday) or a valid start_time",
                );
            }
            Ok(_) => {}
        }
    }
}

fn adjustment_checks(
    role: &LintRole<'_>,
    adj: &Adjustment,
    policy: FieldRef,
    emit: &mut impl FnMut(LintId, Severity, FieldRef, String<MESSAGE_CAPACITY>, &'static str),
) {
    let key = |k: &'static str| match policy {
        FieldRef::Elasticity(i, _) => FieldRef::Elasticity(i, Some(k)),
        FieldRef::Scheduled(i, _) => FieldRef::Scheduled(i, Some(k)),
        other => other,
    };
    match adj.kind {
        AdjustmentType::Missing => emit(
            LintId::BadType,
            Severity::Error,
            key("type"),
            message(format_args!(
                "no type: OneFlow crashes (nil.upcase) when this policy fires"
            )),
            "set type to CHANGE, CARDINALITY or PERCENTAGE_CHANGE",
        ),
        AdjustmentType::Crash(e) => emit(
            LintId::BadType,
            Severity::Error,
            policy,
            message(format_args!(
                "OneFlow crashes when this policy fires: {}: {}",
                e.class, e.message
            )),
            "give type a name and adjust/min_adjust_step numbers",
        ),
        AdjustmentType::Unknown => emit(
            LintId::BadType,
            Severity::Error,
            key("type"),
            message(format_args!(
                "unknown type: OneFlow logs an error and never changes the cardinality"
            )),
            "set type to CHANGE, CARDINALITY or PERCENTAGE_CHANGE",
        ),
        _ => {}
    }
    if adj.adjust == 0 && !matches!(adj.kind, AdjustmentType::Crash(_)) {
        let what = match adj.kind {
            AdjustmentType::PercentageChange => {
                "PERCENTAGE_CHANGE with adjust 0 removes a VM (0% counts as negative) and ignores min_vms"
            }
            AdjustmentType::Cardinality => "CARDINALITY 0 sets the role to 0 VMs, ignoring min_vms",
            _ => "adjust 0: the policy never changes the cardinality",
        };
        emit(
            LintId::ZeroAdjust,
            Severity::Warning,
            key("adjust"),
            message(format_args!("{what}")),
            "set a non-zero adjust",
        );
    }
    if adj.kind == AdjustmentType::Cardinality && adj.adjust != 0 {
        let min = role.min_vms.unwrap_or(0);
        if adj.adjust < min || role.max_vms.is_some_and(|m| adj.adjust > m) {
            emit(
                LintId::CardinalityOutOfBounds,
                Severity::Warning,
                key("adjust"),
                message(format_args!(
                    "CARDINALITY {} is outside [min_vms {min}, max_vms {}]: OneFlow clamps it or refuses to scale",
                    adj.adjust,
                    role.max_vms.map_or(i64::MAX, |m| m)
                )),
                "choose a target between min_vms and max_vms",
            );
        }
    }
}

/// Tokens of an expression, as far as lint needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Name(&'a str),
    Quoted(&'a str),
    And,
    Or,
    Open,
    Close,
    /// `==` or `=`.
    Eq,
    Other,
}

/// Splits an expression into tokens; never fails (unknown bytes are `Other`).
fn next_token<'s>(s: &'s str, pos: &mut usize) -> Option<(usize, Tok<'s>)> {
    let b = s.as_bytes();
    while b.get(*pos).is_some_and(|c| c.is_ascii_whitespace()) {
        *pos += 1;
    }
    let start = *pos;
    let c = *b.get(start)?;
    let tok = match c {
        b'a'..=b'z' | b'A'..=b'Z' => {
            while b
                .get(*pos)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                *pos += 1;
            }
            return Some((start, Tok::Name(s.get(start..*pos).unwrap_or(""))));
        }
        b'"' | b'\'' => {
            *pos += 1;
            while b.get(*pos).is_some_and(|x| *x != c) {
                *pos += 1;
            }
            let inner = s.get(start + 1..*pos).unwrap_or("");
            if b.get(*pos).is_some() {
                *pos += 1;
            }
            return Some((start, Tok::Quoted(inner)));
        }
        b'&' => {
            *pos += if b.get(start + 1) == Some(&b'&') {
                2
            } else {
                1
            };
            return Some((start, Tok::And));
        }
        b'|' => {
            *pos += if b.get(start + 1) == Some(&b'|') {
                2
            } else {
                1
            };
            return Some((start, Tok::Or));
        }
        b'0'..=b'9' => {
            while b
                .get(*pos)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
            {
                *pos += 1;
            }
            return Some((start, Tok::Other));
        }
        b'=' => {
            *pos += if b.get(start + 1) == Some(&b'=') {
                2
            } else {
                1
            };
            return Some((start, Tok::Eq));
        }
        b'!' | b'<' | b'>' => {
            // `!=`, `<=`, `>=`, `<>` are one operator (not an equality).
            *pos += if matches!(b.get(start + 1), Some(b'=' | b'>')) {
                2
            } else {
                1
            };
            return Some((start, Tok::Other));
        }
        b'(' => Tok::Open,
        b')' => Tok::Close,
        _ => Tok::Other,
    };
    // Advance one whole character.
    *pos += s
        .get(start..)
        .and_then(|r| r.chars().next())
        .map_or(1, char::len_utf8);
    Some((start, tok))
}

fn is_known(name: &str, opts: &LintOptions<'_>) -> bool {
    let eq = |k: &&str| k.len() == name.len() && k.eq_ignore_ascii_case(name);
    KNOWN_ATTRIBUTES.iter().any(eq) || opts.extra_attributes.iter().any(eq)
}

fn expression_checks(
    expr: &str,
    i: usize,
    opts: &LintOptions<'_>,
    emit: &mut impl FnMut(LintId, Severity, FieldRef, String<MESSAGE_CAPACITY>, &'static str),
) {
    let field = FieldRef::Elasticity(i, Some("expression"));
    if let Err(crate::expr::ParseError::Syntax(e)) =
        crate::expr::Expr::<'_, EXPR_NODES>::parse(expr)
    {
        emit(
            LintId::ParseError,
            Severity::Error,
            field,
            message(format_args!("does not parse, OneFlow treats it as false: {e}")),
            "fix the syntax: NAME OP NUMBER joined by &&, ||, ! and parentheses (spaces only, no tabs)",
        );
    }
    // Logical operators seen per parenthesis depth: bit 0 = and, bit 1 = or.
    let mut seen = [0u8; 32];
    let mut depth = 0usize;
    let mut mixed_reported = false;
    let mut equality_reported = false;
    let mut previous: Option<Tok<'_>> = None;
    let mut pos = 0;
    while let Some((at, tok)) = next_token(expr, &mut pos) {
        let averaged = |t: Option<Tok<'_>>| match t {
            Some(Tok::Name(n)) => AVERAGED_STATUS.iter().any(|k| k.eq_ignore_ascii_case(n)),
            _ => false,
        };
        let equality = (tok == Tok::Eq && averaged(previous))
            || (previous == Some(Tok::Eq) && averaged(Some(tok)));
        if equality && !equality_reported {
            equality_reported = true;
            emit(
                LintId::EqualityOnAverage,
                Severity::Info,
                field,
                message(format_args!(
                    "== on an FL status averaged over the role's VMs (column {}) holds only when every VM has that value",
                    at + 1
                )),
                "compare the average with a threshold, e.g. FL_TRAINING_ACTIVE > 0.5 for most clients training",
            );
        }
        previous = Some(tok);
        match tok {
            Tok::Open => {
                depth += 1;
                if let Some(s) = seen.get_mut(depth) {
                    *s = 0;
                }
            }
            Tok::Close => depth = depth.saturating_sub(1),
            Tok::And | Tok::Or => {
                if let Some(s) = seen.get_mut(depth) {
                    *s |= if tok == Tok::And { 1 } else { 2 };
                    if *s == 3 && !mixed_reported {
                        mixed_reported = true;
                        emit(
                            LintId::MixedAndOr,
                            Severity::Warning,
                            field,
                            message(format_args!(
                                "&& and || mixed without parentheses (column {}): OneFlow gives them equal precedence, grouped to the right (a && b || c = a && (b || c))",
                                at + 1
                            )),
                            "add parentheses around each && or || group",
                        );
                    }
                }
            }
            Tok::Quoted(name) => emit(
                LintId::QuotedName,
                Severity::Error,
                field,
                message(format_args!(
                    "quoted \"{}\" (column {}) is a variable name OneFlow never finds: the comparison is always false",
                    Short(name),
                    at + 1
                )),
                "compare FL_* attributes with numbers, e.g. FL_CLIENT_STATUS == 2 (1 IDLE, 2 TRAINING, 3 DISCONNECTED)",
            ),
            Tok::Name(name) => {
                if STRING_FL_ATTRIBUTES.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                    emit(
                        LintId::StringFlAttribute,
                        Severity::Warning,
                        field,
                        message(format_args!(
                            "{} holds a string; OneFlow averages it with to_f, so it reads as 0",
                            Short(name)
                        )),
                        "use the numeric FL_CLIENT_STATUS, FL_TRAINING_ACTIVE or FL_ROUND_NUMBER",
                    );
                } else if !is_known(name, opts) {
                    emit(
                        LintId::UnknownAttribute,
                        Severity::Warning,
                        field,
                        message(format_args!(
                            "no VM publishes {} (column {}): the comparison is always false",
                            Short(name),
                            at + 1
                        )),
                        "fix the name, or publish it (onegate vm update) and pass --known-attr",
                    );
                }
            }
            Tok::Eq | Tok::Other => {}
        }
    }
}
