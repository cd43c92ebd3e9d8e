//! `stamen gate`: run the OneGate + OneFlow emulator (see [`crate::gate`]).

use crate::gate::model::VmEvent;
use crate::gate::spec::ServiceSpec;
use crate::gate::{Gate, GateConfig, Hook};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Command line of `stamen gate`.
#[derive(Parser, Debug)]
#[command(
    about = "Local OneGate + OneFlow emulator: serves the OneGate API for a service file and autoscales it",
    long_about = "Serves the OneGate API for the service described in SERVICE.json, writes each \
VM's context.sh and token.txt under --state-dir, and every --period seconds runs OneFlow's \
autoscaler over the attributes the VMs publish, creating and removing VMs and running the \
--on-vm-add / --on-vm-remove hooks.\n\nHooks are executed directly (never through a shell): the \
value is split on whitespace into a program and its arguments. The hook gets STAMEN_GATE_EVENT \
(add|remove), STAMEN_VM_ID, STAMEN_VM_ROLE, STAMEN_VM_DIR, STAMEN_VM_CONTEXT (path of \
context.sh) and STAMEN_VM_TOKEN_FILE in its environment."
)]
pub struct Args {
    /// Service file (JSON; format in the `gate` module docs and examples/services/).
    #[arg(long, value_name = "SERVICE.json")]
    pub service: PathBuf,
    /// Address to listen on; only loopback unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:5030")]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (no TLS: tokens travel in clear).
    #[arg(long)]
    pub allow_remote: bool,
    /// Directory for `vm-<id>/context.sh` and `vm-<id>/token.txt`.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Autoscaler period in seconds (0 disables the autoscaler).
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub period: u64,
    /// Command run when a VM is added (program and arguments, whitespace-separated).
    #[arg(long, value_name = "CMD")]
    pub on_vm_add: Option<String>,
    /// Command run when a VM is removed (program and arguments, whitespace-separated).
    #[arg(long, value_name = "CMD")]
    pub on_vm_remove: Option<String>,
}

/// Splits a hook command into argv (whitespace only; no quoting, no expansion).
pub fn hook_argv(cmd: &str) -> Result<Vec<String>, String> {
    let argv: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
    if argv.is_empty() {
        return Err("hook command is empty".into());
    }
    Ok(argv)
}

/// A hook that executes `argv` with the VM's details in the environment and
/// reaps it on a background thread.
pub fn exec_hook(argv: Vec<String>) -> Hook {
    Arc::new(move |e: &VmEvent| {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..])
            .stdin(Stdio::null())
            .env("STAMEN_GATE_EVENT", if e.added { "add" } else { "remove" })
            .env("STAMEN_VM_ID", e.id.to_string())
            .env("STAMEN_VM_ROLE", &e.role);
        if let Some(d) = &e.dir {
            c.env("STAMEN_VM_DIR", d)
                .env("STAMEN_VM_CONTEXT", d.join("context.sh"))
                .env("STAMEN_VM_TOKEN_FILE", d.join("token.txt"));
        }
        match c.spawn() {
            Ok(mut child) => {
                let (prog, id) = (argv[0].clone(), e.id);
                std::thread::spawn(move || match child.wait() {
                    Ok(s) if s.success() => {}
                    Ok(s) => eprintln!("stamen gate: hook {prog} for VM {id} exited with {s}"),
                    Err(err) => eprintln!("stamen gate: hook {prog} for VM {id}: {err}"),
                });
            }
            Err(err) => eprintln!("stamen gate: cannot run hook {}: {err}", argv[0]),
        }
    })
}

/// Runs `stamen gate` until the process is stopped.
pub fn run(args: Args) -> ExitCode {
    let spec = match ServiceSpec::load(&args.service) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stamen gate: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cfg = GateConfig::new(spec);
    cfg.listen = args.listen;
    cfg.allow_remote = args.allow_remote;
    cfg.state_dir = args.state_dir;
    cfg.period = (args.period > 0).then(|| Duration::from_secs(args.period));
    for (opt, slot, name) in [
        (&args.on_vm_add, &mut cfg.on_vm_add, "--on-vm-add"),
        (&args.on_vm_remove, &mut cfg.on_vm_remove, "--on-vm-remove"),
    ] {
        if let Some(cmd) = opt {
            match hook_argv(cmd) {
                Ok(argv) => *slot = Some(exec_hook(argv)),
                Err(e) => {
                    eprintln!("stamen gate: {name}: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    let handle = match Gate::start(cfg) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("stamen gate: {e}");
            return ExitCode::from(1);
        }
    };
    println!("{}", handle.endpoint());
    loop {
        std::thread::park();
    }
}
