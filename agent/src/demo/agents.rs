//! The demo's agents: `stamen run` processes of this binary, one per
//! SuperNode VM, each reading its VM's `context.sh` from the emulator's state
//! dir. Their log lines are forwarded line by line; every process is stopped
//! by PID.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How the demo starts each agent.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// This binary.
    pub exe: PathBuf,
    /// The SuperNode command given to `stamen run --supernode-cmd`.
    pub supernode_cmd: String,
    /// Where sockets and CA files go.
    pub run_dir: PathBuf,
    /// Extra `stamen run` flags (pacing for the demo).
    pub extra: Vec<String>,
}

/// One running (or finished) agent.
#[derive(Debug)]
pub struct Agent {
    /// The VM it plays.
    pub vm: u32,
    /// Timeline name (`node-<vm>`).
    pub name: String,
    child: Child,
    /// Its exit status, once reaped.
    pub exited: Option<ExitStatus>,
    /// When the demo asked it to stop.
    pub stop_sent: Option<Instant>,
}

/// `code=N` or `signal=N`.
pub fn describe(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("code={c}"),
        (None, Some(s)) => format!("signal={s}"),
        _ => "unknown".into(),
    }
}

#[allow(unsafe_code)]
fn send_signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 0 {
        return;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; the PID is our own
    // unreaped child, so it cannot have been recycled.
    unsafe {
        libc::kill(pid, sig);
    }
}

fn forward(pipe: impl Read + Send + 'static, on_line: impl Fn(String) + Send + 'static) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if !line.is_empty() {
                        on_line(line);
                    }
                }
            }
        }
    });
}

impl Agent {
    /// Starts `stamen run` for VM `vm` whose directory is `vm_dir`; each
    /// output line (stdout or stderr, the SuperNode's included) goes to
    /// `on_line`.
    pub fn spawn(
        spec: &AgentSpec,
        vm: u32,
        vm_dir: &Path,
        on_line: impl Fn(u32, String) + Send + Sync + Clone + 'static,
    ) -> std::io::Result<Agent> {
        let mut cmd = Command::new(&spec.exe);
        cmd.arg("run")
            .arg("--context")
            .arg(vm_dir.join("context.sh"))
            .arg("--status-socket")
            .arg(spec.run_dir.join(format!("vm-{vm}.sock")))
            .arg("--ca-file")
            .arg(spec.run_dir.join(format!("vm-{vm}-ca.pem")))
            .arg("--supernode-cmd")
            .arg(&spec.supernode_cmd)
            .args(&spec.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("JOURNAL_STREAM")
            .env_remove("STAMEN_STATUS_SOCKET")
            .env_remove("ONEGATE_TOKEN")
            .env_remove("TOKENTXT")
            // Own process group: a Ctrl-C in the terminal reaches only the
            // demo, which then stops each agent by PID.
            .process_group(0);
        #[allow(unsafe_code)]
        // SAFETY: the closure runs in the forked child before exec and only
        // calls prctl(2), which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                // If the demo dies without cleaning up (SIGKILL), the agent
                // gets SIGTERM instead of running on as an orphan.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        if let Some(out) = child.stdout.take() {
            let f = on_line.clone();
            forward(out, move |l| f(vm, l));
        }
        if let Some(err) = child.stderr.take() {
            let f = on_line;
            forward(err, move |l| f(vm, l));
        }
        Ok(Agent {
            vm,
            name: format!("node-{vm}"),
            child,
            exited: None,
            stop_sent: None,
        })
    }

    /// The agent's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reaps without blocking; `Some` the first time it is seen exited.
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_some() {
            return None;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => {
                self.exited = Some(st);
                Some(st)
            }
            _ => None,
        }
    }

    /// Sends SIGTERM (once) if it still runs.
    pub fn terminate(&mut self) {
        if self.exited.is_none() && self.stop_sent.is_none() {
            send_signal(self.pid(), libc::SIGTERM);
            self.stop_sent = Some(Instant::now());
        }
    }

    /// SIGKILL if it still runs, then reaps.
    pub fn kill(&mut self) {
        if self.exited.is_none() {
            send_signal(self.pid(), libc::SIGKILL);
            self.exited = self.child.wait().ok();
        }
    }
}

/// SIGTERM to every running agent, wait up to `grace` for all, SIGKILL the
/// rest. `on_exit` is told about each exit; `pump` runs while waiting (to
/// keep the timeline flowing).
pub fn stop_all(
    agents: &mut [Agent],
    grace: Duration,
    mut on_exit: impl FnMut(&Agent, ExitStatus, bool),
    mut pump: impl FnMut(),
) {
    for a in agents.iter_mut() {
        a.terminate();
    }
    let deadline = Instant::now() + grace;
    loop {
        for a in agents.iter_mut() {
            if let Some(st) = a.poll_exit() {
                on_exit(a, st, false);
            }
        }
        if agents.iter().all(|a| a.exited.is_some()) || Instant::now() >= deadline {
            break;
        }
        pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    for a in agents.iter_mut() {
        if a.exited.is_none() {
            a.kill();
            if let Some(st) = a.exited {
                on_exit(a, st, true);
            }
        }
    }
}
