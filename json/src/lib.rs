//! OneFlow JSON documents read the way OneFlow reads them, shared by the
//! `stamen` agent and the Python bindings (`stamen._stamen`).
//!
//! - [`policydoc`]: roles, elasticity and scheduled policies (Ruby `to_i`,
//!   `upcase`, the `NoMethodError`s OneFlow would raise).
//! - [`vmdoc`]: VM documents as the core's `VmView`.
//! - [`policyeval`]: the policy engine's expression evaluator over a tick's VMs.
//! - [`lint`]: stamen's policy lints over a whole document.
//!
//! Only std and `serde_json`: no I/O, no HTTP.
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod lint;
pub mod policydoc;
pub mod policyeval;
pub mod vmdoc;
