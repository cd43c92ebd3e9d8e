//! # stamen-core
//!
//! The allocation-free, sans-IO heart of stamen. Every function here is pure:
//! the caller passes time in (milliseconds) and randomness in (a seed), provides
//! output buffers, and performs all I/O itself. Nothing reads a clock, the
//! environment or a file, and nothing allocates.
//!
//! | module | what |
//! |---|---|
//! | [`context`] | OpenNebula `context.sh` parser, [`context::EdgeConfig`] from the FL variables |
//! | [`backoff`], [`rng`] | retry schedules with jitter from a seeded PRNG |
//! | [`status`], [`form`], [`ipc`] | FL status tracking, OneGate bodies, the app → agent datagram |
//! | [`expr`] | OneFlow elasticity expressions, exactly as OneFlow parses, evaluates and traces them |
//! | [`policy`] | OneFlow's autoscaler: cardinality, elasticity/scheduled policies, cron, lint |
//!
//! ```
//! use stamen_core::backoff::{Backoff, BackoffConfig, Decision, Jitter};
//! use stamen_core::expr::Expr;
//!
//! // Discovery retries: 10 s, doubling, capped at 300 s (the seed schedule).
//! let cfg = BackoffConfig::exponential_default(300).with_jitter(Jitter::None);
//! let mut retry = Backoff::new(cfg, 7);
//! let delays: Vec<u64> = (0..7)
//!     .map(|_| match retry.on_failure(0) {
//!         Decision::Retry { delay_ms, .. } => delay_ms / 1000,
//!         _ => unreachable!("unlimited attempts"),
//!     })
//!     .collect();
//! assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
//!
//! // OneFlow gives && and || equal precedence, grouped to the right.
//! let rule: Expr = Expr::parse("F > 0 && T > 0 || T > 0").unwrap();
//! let mut vars = |name: &str| -> Result<Option<f64>, ()> {
//!     Ok(match name {
//!         "F" => Some(0.0),
//!         "T" => Some(1.0),
//!         _ => None,
//!     })
//! };
//! let mut trace = String::new();
//! assert!(!rule.eval_traced(&mut vars, &mut trace).unwrap()); // F && (T || T)
//! assert_eq!(trace, "F[0.0] > 0 && T[1.0] > 0 || T[1.0] > 0");
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod context;
pub mod expr;
pub mod form;
pub mod ipc;
pub mod policy;
pub mod rng;
pub mod status;
