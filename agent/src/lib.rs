//! Library side of the `stamen` binary: every command and the I/O around
//! `stamen-core` (files, HTTP, processes, sockets). `main.rs` only dispatches.
#![warn(missing_docs)]

pub mod cmd_backoff;
pub mod cmd_context;
#[cfg(feature = "emulator")]
pub mod cmd_demo;
pub mod cmd_expr;
#[cfg(feature = "emulator")]
pub mod cmd_gate;
pub mod cmd_onegate;
pub mod cmd_policy;
pub mod cmd_run;
pub mod ctxfile;
#[cfg(feature = "emulator")]
pub mod demo;
#[cfg(feature = "emulator")]
pub mod gate;
pub mod onegate;
pub mod run;

// OneFlow documents live in `stamen-json` (shared with the Python bindings);
// re-exported under their historical paths.
pub use stamen_json::{policydoc, policyeval, vmdoc};
