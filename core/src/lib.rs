//! # stamen-core
//!
//! The allocation-free, sans-IO heart of stamen. Every function here is pure:
//! the caller passes time in (milliseconds) and randomness in (a seed), provides
//! output buffers, and performs all I/O itself. Nothing reads a clock, the
//! environment or a file, and nothing allocates.
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
