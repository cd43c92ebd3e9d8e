//! `calculate_new_cardinality`: what one triggered policy asks the role's
//! cardinality to become (SPEC §7).

use core::fmt;

use super::ruby::upcase_eq;

/// A policy's `type`, read like OneFlow reads it (`type.upcase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdjustmentType {
    /// `CHANGE`: cardinality + adjust.
    Change,
    /// `CARDINALITY`: cardinality = adjust.
    Cardinality,
    /// `PERCENTAGE_CHANGE`: cardinality ± adjust % (at least 1 and at least
    /// `min_adjust_step`).
    PercentageChange,
    /// Any other name: OneFlow logs an error and keeps the cardinality.
    Unknown,
    /// No `type` at all: OneFlow crashes (`nil.upcase`) when the policy fires.
    Missing,
    /// A field OneFlow reads when the policy fires has a value it cannot
    /// convert (`"adjust": true`, `"type": 5`, …): it raises this exception
    /// then.
    Crash(RubyException),
}

impl AdjustmentType {
    /// Reads a `type` value; names compare after Unicode upper-casing, as in Ruby.
    pub fn from_name(name: Option<&str>) -> AdjustmentType {
        match name {
            None => AdjustmentType::Missing,
            Some(n) if upcase_eq(n, "CHANGE") => AdjustmentType::Change,
            Some(n) if upcase_eq(n, "CARDINALITY") => AdjustmentType::Cardinality,
            Some(n) if upcase_eq(n, "PERCENTAGE_CHANGE") => AdjustmentType::PercentageChange,
            Some(_) => AdjustmentType::Unknown,
        }
    }
}

/// The adjustment half of a policy (all integers already converted with
/// Ruby's `to_i`; a missing `adjust` or `min_adjust_step` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adjustment {
    /// The policy type.
    pub kind: AdjustmentType,
    /// `adjust`.
    pub adjust: i64,
    /// `min_adjust_step` (only used by PERCENTAGE_CHANGE).
    pub min_adjust_step: i64,
}

/// The role fields the calculation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Current cardinality.
    pub cardinality: i64,
    /// `min_vms`, if set.
    pub min_vms: Option<i64>,
    /// `max_vms`, if set.
    pub max_vms: Option<i64>,
}

/// A crash of OneFlow's own Ruby code that an input provokes: stamen reports
/// it as an error instead of inventing a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RubyException {
    /// Ruby exception class, e.g. `NoMethodError`.
    pub class: &'static str,
    /// Ruby exception message.
    pub message: &'static str,
}

impl fmt::Display for RubyException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OneFlow would raise {}: {}", self.class, self.message)
    }
}

impl core::error::Error for RubyException {}

/// The exception OneFlow raises for a policy without `type`.
pub const MISSING_TYPE: RubyException = RubyException {
    class: "NoMethodError",
    message: "undefined method 'upcase' for nil",
};

/// OneFlow's `calculate_new_cardinality`: the cardinality a triggered policy
/// asks for.
///
/// CHANGE adds `adjust`; CARDINALITY is `adjust`; PERCENTAGE_CHANGE adds
/// `c = cardinality·adjust/100` rounded to a step of `|c| < 1 ? 1 : trunc|c|`,
/// at least `min_adjust_step`, with the sign of `c` (0 counts as negative).
/// The result is then clamped by the sign of `adjust`: a positive `adjust`
/// caps it at `max(cardinality, max_vms)`, a negative one floors it at
/// `min_vms`, 0 leaves it alone. Unknown types keep the cardinality.
/// Arithmetic saturates at the `i64` bounds.
pub fn new_cardinality(role: &Bounds, policy: &Adjustment) -> Result<i64, RubyException> {
    let card = role.cardinality;
    let adjust = policy.adjust;
    let max = card.max(role.max_vms.unwrap_or(0));
    let min = role.min_vms.unwrap_or(0);
    let new = match policy.kind {
        AdjustmentType::Change => card.saturating_add(adjust),
        AdjustmentType::Cardinality => adjust,
        AdjustmentType::PercentageChange => {
            let change = (i128::from(card) * i128::from(adjust)) as f64 / 100.0;
            let sign: i64 = if change > 0.0 { 1 } else { -1 };
            let magnitude = change.abs();
            // `as` truncates toward zero and saturates, like `to_i` (bounded).
            let step = if magnitude < 1.0 { 1 } else { magnitude as i64 };
            card.saturating_add(sign.saturating_mul(step.max(policy.min_adjust_step)))
        }
        AdjustmentType::Unknown => return Ok(card),
        AdjustmentType::Missing => return Err(MISSING_TYPE),
        AdjustmentType::Crash(e) => return Err(e),
    };
    Ok(if adjust > 0 && new > max {
        max
    } else if adjust < 0 && new < min {
        min
    } else {
        new
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calc(
        card: i64,
        min: Option<i64>,
        max: Option<i64>,
        kind: AdjustmentType,
        adjust: i64,
        step: i64,
    ) -> i64 {
        let role = Bounds {
            cardinality: card,
            min_vms: min,
            max_vms: max,
        };
        let policy = Adjustment {
            kind,
            adjust,
            min_adjust_step: step,
        };
        new_cardinality(&role, &policy).unwrap_or(i64::MIN)
    }

    #[test]
    fn spec_examples() {
        use AdjustmentType::*;
        assert_eq!(calc(4, Some(1), Some(5), Change, 2, 0), 5);
        assert_eq!(calc(1, Some(3), Some(5), Change, -1, 0), 3);
        assert_eq!(calc(5, Some(1), Some(5), PercentageChange, -10, 2), 3);
        assert_eq!(calc(0, Some(1), Some(5), PercentageChange, 50, 0), -1);
        assert_eq!(calc(3, Some(1), Some(10), PercentageChange, 33, 0), 4);
        assert_eq!(calc(12, Some(1), Some(10), Cardinality, 11, 0), 11);
        assert_eq!(calc(5, Some(3), Some(10), Cardinality, 0, 0), 0);
        assert_eq!(calc(3, Some(1), Some(5), Unknown, 10, 0), 3);
        assert_eq!(calc(i64::MAX, None, None, Change, 5, 0), i64::MAX);
    }

    #[test]
    fn missing_type_is_the_ruby_crash() {
        let role = Bounds {
            cardinality: 1,
            min_vms: None,
            max_vms: None,
        };
        let policy = Adjustment {
            kind: AdjustmentType::Missing,
            adjust: 1,
            min_adjust_step: 0,
        };
        assert_eq!(new_cardinality(&role, &policy), Err(MISSING_TYPE));
    }
}
