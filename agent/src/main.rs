//! `stamen`: the edge agent and toolkit for Flower federated learning on OpenNebula.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Command line of the `stamen` binary.
#[derive(Parser, Debug)]
#[command(
    name = "stamen",
    version,
    about = "Edge agent and toolkit for Flower federated learning on OpenNebula"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand; each lives in its own module of the library.
#[derive(Subcommand, Debug)]
enum Command {
    /// Print the retry delays a backoff configuration produces.
    Backoff(stamen_agent::cmd_backoff::Args),
    /// Talk to OneGate (drop-in for the `onegate` client).
    Onegate(stamen_agent::cmd_onegate::Args),
    /// Evaluate a OneFlow elasticity expression exactly as OneFlow does.
    Expr(stamen_agent::cmd_expr::Args),
    /// Local OneGate + OneFlow emulator.
    #[cfg(feature = "emulator")]
    Gate(stamen_agent::cmd_gate::Args),
    /// Replay and lint OneFlow elasticity policies.
    Policy(stamen_agent::cmd_policy::Args),
    /// Run the edge daemon: find the SuperLink, supervise the SuperNode, publish FL status.
    Run(stamen_agent::cmd_run::Args),
    /// Validate and show the OpenNebula context.
    Context(stamen_agent::cmd_context::Args),
    // About text: `stamen_agent::cmd_demo::Args`.
    #[cfg(feature = "emulator")]
    Demo(stamen_agent::cmd_demo::Args),
    /// Stand-in SuperNode used by `stamen demo` (internal).
    #[cfg(feature = "emulator")]
    #[command(hide = true)]
    DemoSupernode(stamen_agent::demo::supernode::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Backoff(args) => stamen_agent::cmd_backoff::main(args),
        Command::Onegate(args) => stamen_agent::cmd_onegate::run(args),
        Command::Expr(args) => stamen_agent::cmd_expr::run(args),
        #[cfg(feature = "emulator")]
        Command::Gate(a) => stamen_agent::cmd_gate::run(a),
        Command::Policy(args) => stamen_agent::cmd_policy::run(args),
        Command::Run(args) => stamen_agent::cmd_run::run(args),
        Command::Context(args) => stamen_agent::cmd_context::run(&args),
        #[cfg(feature = "emulator")]
        Command::Demo(args) => stamen_agent::cmd_demo::run(args),
        #[cfg(feature = "emulator")]
        Command::DemoSupernode(args) => stamen_agent::demo::supernode::run(args),
    }
}
