//! OneFlow elasticity and scheduled policies (SPEC §7), bit-for-bit with
//! OneFlow's own Ruby code, plus stamen's lints for Flower roles.
//!
//! - [`cardinality::new_cardinality`]: what a triggered policy asks for.
//! - [`engine::Autoscaler`]: the per-pass `scale?` state machine (scheduled
//!   before elasticity, periods, `true_evals`, cooldowns, `min_vms`).
//! - [`cron::Cron`] and [`time`]: recurrences (`parse-cron` semantics) and
//!   ISO-8601 start times.
//! - [`lint`]: anti-pattern checks with stable ids.
//!
//! Everything is allocation-free; time is passed in as epoch seconds.

pub mod cardinality;
pub mod cron;
pub mod engine;
pub mod lint;
pub mod ruby;
pub mod schedule;
pub mod time;

pub use cardinality::{new_cardinality, Adjustment, AdjustmentType, Bounds, RubyException};
pub use cron::{Cron, CronError};
pub use engine::{
    Autoscaler, Decision, ElasticityPolicy, ElasticityState, EvalError, Evaluator, ScaleError,
    ScheduledPolicy, ScheduledState, Source, Tick, Trace, DEFAULT_COOLDOWN,
};
pub use schedule::{Inert, Schedule};
