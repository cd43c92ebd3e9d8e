//! An attribute's value over a role's VMs, exactly as OneFlow computes it.
//!
//! For each VM of the role that is RUNNING (`STATE` and `LCM_STATE` both the
//! *strings* `"3"`), OneFlow takes the first of `USER_TEMPLATE[name]`,
//! `MONITORING[name]`, `TEMPLATE[name]`, `VM[name]` that is neither missing
//! nor `nil`/`false`. If that value responds to `to_f` (text or a number) it
//! is added to the sum and the VM counts; anything else (an empty element, a
//! nested or repeated element, `true`) is skipped without trying the next
//! section. The sum (in VM order, as `f64`) is divided by the count; the
//! result is `((avg * 100).round) / 100.0` — half away from zero, an integer
//! `0` giving `0.0`. When `avg * 100` is `±Infinity` or `NaN`, Ruby's `round`
//! raises `FloatDomainError`; a missing section raises `NoMethodError`. Those
//! are [`AvgError`]s, never values.

use core::fmt;

use super::eval::Resolver;
use super::ruby::str_to_f;

/// The places OneFlow looks an attribute up in, in order.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// `/VM/USER_TEMPLATE` (what OneGate `PUT`s update), looked up first.
    UserTemplate,
    /// The VM's monitoring record, second.
    Monitoring,
    /// `/VM/TEMPLATE`, third.
    Template,
    /// `/VM` itself (`ID`, `NAME`, `STATE`, …), last.
    Root,
}

impl Section {
    /// Every section, in lookup order.
    pub const ALL: [Section; 4] = [
        Section::UserTemplate,
        Section::Monitoring,
        Section::Template,
        Section::Root,
    ];

    /// The element's name in the VM document.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserTemplate => "USER_TEMPLATE",
            Self::Monitoring => "MONITORING",
            Self::Template => "TEMPLATE",
            Self::Root => "VM",
        }
    }
}

/// What a VM holds for an attribute in one [`Section`] (the XML-to-hash value
/// OneFlow sees).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lookup<'a> {
    /// No such key, or its value is `nil`/`false`: OneFlow tries the next
    /// section.
    Missing,
    /// Text: converted with Ruby's `String#to_f` (see
    /// [`str_to_f`](super::str_to_f)); the VM counts.
    Text(&'a str),
    /// A number (JSON callers only; XML has text): used as is; the VM counts.
    Number(f64),
    /// An empty element (`{}`): found but not numeric; the VM is skipped.
    Empty,
    /// A nested element (a hash): found but not numeric; the VM is skipped.
    Nested,
    /// A repeated element (an array): found but not numeric; the VM is
    /// skipped.
    Array,
    /// Any other value without `to_f` (e.g. `true`): the VM is skipped.
    NotNumeric,
    /// The section itself is absent (`nil`): OneFlow raises `NoMethodError`.
    NoSection,
    /// The section is a value whose `[]` raises `TypeError` (an array or a
    /// number).
    BadSection,
}

/// A VM as OneFlow's averaging sees it. Implemented by the agent over JSON
/// documents; implement it over your own VM data to reuse [`average`].
pub trait VmView {
    /// Whether the VM counts: it is in the role's VM pool and its `STATE` and
    /// `LCM_STATE` are both the strings `"3"` (ACTIVE / RUNNING).
    fn is_running(&self) -> bool;

    /// The value of attribute `name` (exact, case-sensitive key) in `section`.
    fn lookup(&self, section: Section, name: &str) -> Lookup<'_>;
}

impl<T: VmView + ?Sized> VmView for &T {
    fn is_running(&self) -> bool {
        (**self).is_running()
    }

    fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
        (**self).lookup(section, name)
    }
}

/// Where OneFlow itself raises while computing an attribute.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AvgError {
    /// `avg * 100` is `+Infinity`: `round` raises `FloatDomainError`.
    Infinity,
    /// `avg * 100` is `-Infinity`: `round` raises `FloatDomainError`.
    NegInfinity,
    /// `avg * 100` is `NaN` (e.g. `Infinity` and `-Infinity` summed): `round`
    /// raises `FloatDomainError`.
    NaN,
    /// A section the lookup reached is absent: `NoMethodError` on `nil`.
    NoSection {
        /// Position of the VM in the role.
        vm: usize,
        /// The absent section.
        section: Section,
    },
    /// A section the lookup reached is not a hash: `TypeError`.
    BadSection {
        /// Position of the VM in the role.
        vm: usize,
        /// The malformed section.
        section: Section,
    },
}

impl AvgError {
    /// The Ruby exception class OneFlow raises.
    pub const fn ruby_class(&self) -> &'static str {
        match self {
            Self::Infinity | Self::NegInfinity | Self::NaN => "FloatDomainError",
            Self::NoSection { .. } => "NoMethodError",
            Self::BadSection { .. } => "TypeError",
        }
    }

    /// The Ruby exception message (for `NoMethodError`/`TypeError`, the one
    /// of current Ruby versions).
    pub const fn ruby_message(&self) -> &'static str {
        match self {
            Self::Infinity => "Infinity",
            Self::NegInfinity => "-Infinity",
            Self::NaN => "NaN",
            Self::NoSection { .. } => "undefined method '[]' for nil",
            Self::BadSection { .. } => "no implicit conversion of String into Integer",
        }
    }
}

impl fmt::Display for AvgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Infinity | Self::NegInfinity | Self::NaN => write!(
                f,
                "OneFlow raises FloatDomainError ({}): the average times 100 is not finite",
                self.ruby_message()
            ),
            Self::NoSection { vm, section } => write!(
                f,
                "OneFlow raises NoMethodError: VM #{vm} has no {} section",
                section.as_str()
            ),
            Self::BadSection { vm, section } => write!(
                f,
                "OneFlow raises TypeError: {} of VM #{vm} is not a hash",
                section.as_str()
            ),
        }
    }
}

impl core::error::Error for AvgError {}

/// The value of attribute `name` over `vms` as OneFlow computes it (see the
/// docs of the `vms` module, re-exported here): `Ok(None)` when no RUNNING VM has it.
///
/// `name` is matched exactly (OneFlow upper-cases the expression's name, so
/// pass the name an [`Expr`](super::Expr) hands its resolver).
///
/// # Errors
/// Where OneFlow raises: a non-finite average, or a section the lookup
/// reaches that is absent or not a hash.
pub fn average<I>(vms: I, name: &str) -> Result<Option<f64>, AvgError>
where
    I: IntoIterator,
    I::Item: VmView,
{
    let mut total = 0.0f64;
    let mut count: u64 = 0;
    for (index, vm) in vms.into_iter().enumerate() {
        if !vm.is_running() {
            continue;
        }
        let mut found = Lookup::Missing;
        for section in Section::ALL {
            match vm.lookup(section, name) {
                Lookup::Missing => {}
                Lookup::NoSection => return Err(AvgError::NoSection { vm: index, section }),
                Lookup::BadSection => return Err(AvgError::BadSection { vm: index, section }),
                other => {
                    found = other;
                    break;
                }
            }
        }
        let value = match found {
            Lookup::Text(t) => str_to_f(t),
            Lookup::Number(x) => x,
            _ => continue,
        };
        total += value;
        count = count.saturating_add(1);
    }
    if count == 0 {
        return Ok(None);
    }
    round2(total / count as f64).map(Some)
}

/// OneFlow's rounding of an average: `((avg * 100).round) / 100.0` with
/// Ruby's `Float#round` (half away from zero, to an Integer, so `-0.0`
/// becomes `0`).
///
/// ```
/// use stamen_core::expr::round2;
/// assert_eq!(round2(200.0 / 3.0), Ok(66.67));
/// assert_eq!(round2(0.005), Ok(0.01));
/// assert_eq!(round2(-0.001), Ok(0.0));
/// assert!(round2(1e307).is_err()); // 1e309 is Infinity
/// ```
///
/// # Errors
/// `FloatDomainError` cases: `avg * 100` not finite.
pub fn round2(avg: f64) -> Result<f64, AvgError> {
    let x = avg * 100.0;
    if x.is_nan() {
        return Err(AvgError::NaN);
    }
    if x == f64::INFINITY {
        return Err(AvgError::Infinity);
    }
    if x == f64::NEG_INFINITY {
        return Err(AvgError::NegInfinity);
    }
    let r = round_half_away(x);
    Ok(if r == 0.0 { 0.0 } else { r / 100.0 })
}

/// C's `round`: to the nearest integer, halves away from zero.
fn round_half_away(x: f64) -> f64 {
    // 2^52: from here on every f64 is an integer.
    if x.is_nan() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    let t = (x as i64) as f64;
    let frac = x - t;
    if frac >= 0.5 {
        t + 1.0
    } else if frac <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

/// A [`Resolver`] averaging over a role's VMs with [`average`].
#[derive(Clone, Copy, Debug)]
pub struct VmResolver<'a, V> {
    vms: &'a [V],
}

impl<'a, V: VmView> VmResolver<'a, V> {
    /// Resolves attributes over `vms` (the role's VMs, in role order).
    pub const fn new(vms: &'a [V]) -> Self {
        Self { vms }
    }
}

impl<V: VmView> Resolver for VmResolver<'_, V> {
    type Error = AvgError;

    fn resolve(&mut self, name: &str) -> Result<Option<f64>, AvgError> {
        average(self.vms.iter(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vm<'a> {
        running: bool,
        user: &'a [(&'a str, Lookup<'a>)],
        monitoring: Option<&'a [(&'a str, Lookup<'a>)]>,
    }

    impl VmView for Vm<'_> {
        fn is_running(&self) -> bool {
            self.running
        }

        fn lookup(&self, section: Section, name: &str) -> Lookup<'_> {
            fn find<'v>(s: &[(&str, Lookup<'v>)], name: &str) -> Lookup<'v> {
                s.iter()
                    .find(|(k, _)| *k == name)
                    .map_or(Lookup::Missing, |(_, v)| *v)
            }
            match section {
                Section::UserTemplate => find(self.user, name),
                Section::Monitoring => self.monitoring.map_or(Lookup::NoSection, |m| find(m, name)),
                _ => Lookup::Missing,
            }
        }
    }

    #[test]
    fn averages_like_oneflow() {
        let vms = [
            Vm {
                running: true,
                user: &[("CPU", Lookup::Text("100"))],
                monitoring: Some(&[]),
            },
            Vm {
                running: true,
                user: &[("CPU", Lookup::Text("100"))],
                monitoring: Some(&[]),
            },
            Vm {
                running: true,
                user: &[("CPU", Lookup::Text("0"))],
                monitoring: Some(&[]),
            },
            Vm {
                running: false,
                user: &[("CPU", Lookup::Text("7"))],
                monitoring: None,
            },
            Vm {
                running: true,
                user: &[("CPU", Lookup::Array)],
                monitoring: None,
            },
        ];
        assert_eq!(average(vms.iter(), "CPU"), Ok(Some(66.67)));
        assert_eq!(
            average(vms.iter(), "cpu"),
            Err(AvgError::NoSection {
                vm: 4,
                section: Section::Monitoring
            })
        );
        assert_eq!(average(vms.get(..3).unwrap().iter(), "MEM"), Ok(None));
        let inf = [Vm {
            running: true,
            user: &[("A", Lookup::Text("1e400"))],
            monitoring: None,
        }];
        assert_eq!(average(inf.iter(), "A"), Err(AvgError::Infinity));
        let nan = [
            Vm {
                running: true,
                user: &[("A", Lookup::Number(f64::INFINITY))],
                monitoring: None,
            },
            Vm {
                running: true,
                user: &[("A", Lookup::Number(f64::NEG_INFINITY))],
                monitoring: None,
            },
        ];
        assert_eq!(average(nan.iter(), "A"), Err(AvgError::NaN));
    }

    #[test]
    fn rounding() {
        assert_eq!(round2(12.345), Ok(12.35));
        assert_eq!(round2(0.125), Ok(0.13));
        assert_eq!(round2(-0.005), Ok(-0.01));
        assert_eq!(round2(0.0001), Ok(0.0));
        assert_eq!(round2(1.005), Ok(1.0)); // 100.49999999999999: not Float#round(2)
        assert_eq!(round2(1e306), Ok(1e308 / 100.0));
        assert_eq!(round2(-1e307), Err(AvgError::NegInfinity));
        assert!(round2(-0.001).unwrap().is_sign_positive());
    }
}
