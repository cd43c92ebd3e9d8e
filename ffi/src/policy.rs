//! OneFlow policies (SPEC §7): what a triggered policy asks the role's
//! cardinality to become, exactly as OneFlow computes it.

use crate::result::stamen_result;
use crate::result::stamen_result::*;
use crate::util::{flag, out_write};
use core::ffi::c_char;
use stamen_core::policy::{new_cardinality, Adjustment, AdjustmentType, Bounds};

/// A policy's `type` (pass as `uint32_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_adjustment_type {
    /// `CHANGE`: cardinality + adjust.
    STAMEN_ADJUST_CHANGE = 0,
    /// `CARDINALITY`: cardinality = adjust.
    STAMEN_ADJUST_CARDINALITY = 1,
    /// `PERCENTAGE_CHANGE`: cardinality ± adjust % (at least 1 and at
    /// least `min_adjust_step`).
    STAMEN_ADJUST_PERCENTAGE_CHANGE = 2,
    /// Any other name: OneFlow logs an error and keeps the cardinality.
    STAMEN_ADJUST_UNKNOWN = 3,
    /// No `type` at all: OneFlow crashes when the policy fires.
    STAMEN_ADJUST_MISSING = 4,
}

/// The `type` of a policy document as OneFlow reads it (names compare
/// after Unicode upper-casing: `change`, `Percentage_Change` work).
/// Any other name gives `STAMEN_ADJUST_UNKNOWN`. For a policy without
/// `type` use `STAMEN_ADJUST_MISSING` directly.
///
/// # Safety
/// `name` has `name_len` readable bytes; `kind` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_adjustment_type_from_name(
    name: *const c_char,
    name_len: usize,
    kind: *mut u32,
) -> stamen_result {
    ffi_boundary! {{
        let name = try_str!(name, name_len);
        let kind = try_out!(kind);
        out_write(kind, type_to_c(AdjustmentType::from_name(Some(name))) as u32);
        STAMEN_RESULT_OK
    }}
}

fn type_to_c(t: AdjustmentType) -> stamen_adjustment_type {
    match t {
        AdjustmentType::Change => stamen_adjustment_type::STAMEN_ADJUST_CHANGE,
        AdjustmentType::Cardinality => stamen_adjustment_type::STAMEN_ADJUST_CARDINALITY,
        AdjustmentType::PercentageChange => stamen_adjustment_type::STAMEN_ADJUST_PERCENTAGE_CHANGE,
        AdjustmentType::Missing => stamen_adjustment_type::STAMEN_ADJUST_MISSING,
        _ => stamen_adjustment_type::STAMEN_ADJUST_UNKNOWN,
    }
}

pub(crate) fn type_from_c(t: u32) -> Result<AdjustmentType, stamen_result> {
    Ok(match t {
        0 => AdjustmentType::Change,
        1 => AdjustmentType::Cardinality,
        2 => AdjustmentType::PercentageChange,
        3 => AdjustmentType::Unknown,
        4 => AdjustmentType::Missing,
        _ => return Err(STAMEN_RESULT_INVALID_ARGUMENT),
    })
}

/// The role fields the calculation reads.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_role_bounds {
    /// Current cardinality.
    pub cardinality: i64,
    /// 1 when `min_vms` is set.
    pub has_min_vms: u8,
    /// `min_vms`.
    pub min_vms: i64,
    /// 1 when `max_vms` is set.
    pub has_max_vms: u8,
    /// `max_vms`.
    pub max_vms: i64,
}

/// The adjustment half of a policy (integers as Ruby `to_i` reads them; a
/// missing `adjust` or `min_adjust_step` is 0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_adjustment {
    /// A `stamen_adjustment_type`.
    pub kind: u32,
    /// `adjust`.
    pub adjust: i64,
    /// `min_adjust_step` (PERCENTAGE_CHANGE only).
    pub min_adjust_step: i64,
}

/// OneFlow's `calculate_new_cardinality`: CHANGE adds `adjust`;
/// CARDINALITY is `adjust`; PERCENTAGE_CHANGE adds a step of
/// `|c| < 1 ? 1 : trunc|c|` (c = cardinality·adjust/100), at least
/// `min_adjust_step`, signed like c (0 counts as negative). Then a positive
/// `adjust` caps at `max(cardinality, max_vms)`, a negative one floors at
/// `min_vms`. Unknown types keep the cardinality;
/// `STAMEN_RESULT_POLICY_MISSING_TYPE` for a policy without type.
///
/// # Safety
/// `role` and `adjustment` are readable; `cardinality` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_new_cardinality(
    role: *const stamen_role_bounds,
    adjustment: *const stamen_adjustment,
    cardinality: *mut i64,
) -> stamen_result {
    ffi_boundary! {{
        let role = try_ref!(role);
        let adjustment = try_ref!(adjustment);
        let cardinality = try_out!(cardinality);
        let bounds = tri!(bounds_from_c(role));
        let adj = tri!(adjustment_from_c(adjustment));
        match new_cardinality(&bounds, &adj) {
            Ok(n) => {
                out_write(cardinality, n);
                STAMEN_RESULT_OK
            }
            Err(e) if e.message.contains("upcase") => STAMEN_RESULT_POLICY_MISSING_TYPE,
            Err(_) => STAMEN_RESULT_POLICY_RUBY_EXCEPTION,
        }
    }}
}

pub(crate) fn bounds_from_c(role: &stamen_role_bounds) -> Result<Bounds, stamen_result> {
    Ok(Bounds {
        cardinality: role.cardinality,
        min_vms: if flag(role.has_min_vms)? {
            Some(role.min_vms)
        } else {
            None
        },
        max_vms: if flag(role.has_max_vms)? {
            Some(role.max_vms)
        } else {
            None
        },
    })
}

pub(crate) fn adjustment_from_c(a: &stamen_adjustment) -> Result<Adjustment, stamen_result> {
    Ok(Adjustment {
        kind: type_from_c(a.kind)?,
        adjust: a.adjust,
        min_adjust_step: a.min_adjust_step,
    })
}
