//! Parts of `stamen demo` (the command itself is [`crate::cmd_demo`]): the
//! stand-in SuperLink and SuperNode, the agent processes and the timeline.

pub mod agents;
pub mod superlink;
pub mod supernode;
pub mod timeline;

/// The service the demo runs (`examples/services/demo.json`).
pub const DEMO_SERVICE: &str = include_str!("../../../examples/services/demo.json");
