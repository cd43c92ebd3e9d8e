//! The supervised SuperNode: building its argv, starting it without a shell,
//! reaping it and stopping it.
//!
//! Restart timing (backoff, stable-period reset) is decided by the event loop
//! in `run/mod.rs`; this module only does the process mechanics.
//!
//! # Command template
//!
//! The command is a list of words: `--supernode-cmd` split like a POSIX shell
//! would split words (quotes and backslashes, no expansion, no shell is run),
//! default `flower-supernode`, followed by every `--supernode-arg`. In the
//! words these placeholders are replaced:
//!
//! | placeholder | becomes |
//! |---|---|
//! | `{flags}` (a whole word) | all generated SuperNode flags, one word each |
//! | `{superlink}` | the SuperLink `host:port` |
//! | `{root_certificates}` | path of the CA file (empty without TLS) |
//! | `{node_config}` | the node config (possibly empty) |
//! | `{isolation}` | `subprocess` or `process` |
//! | `{max_retries}`, `{max_wait_time}` | the integers from the context |
//!
//! If no word contains a placeholder, the generated flags are appended at the
//! end. An unknown `{name}` is a configuration error (typo guard); braces
//! that do not form `{lowercase_name}` are kept literally.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Environment variables never passed to the SuperNode (the OneGate token).
pub const SCRUBBED_ENV: &[&str] = &["ONEGATE_TOKEN", "TOKENTXT", "ONEAPP_ONEGATE_TOKEN"];

/// What the generated flags are made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupernodeParams {
    /// SuperLink Fleet API `host:port`.
    pub superlink: String,
    /// CA certificate path when TLS is on; `None` → `--insecure`.
    pub root_certificates: Option<String>,
    /// `--max-retries`; 0 (unlimited) omits the flag (Flower's default is unlimited).
    pub max_retries: u64,
    /// `--max-wait-time`; 0 (unlimited) omits the flag.
    pub max_wait_time: u64,
    /// `--node-config`; `None` or empty omits the flag.
    pub node_config: Option<String>,
    /// `--isolation`.
    pub isolation: String,
}

impl SupernodeParams {
    /// The flags for `flower-supernode` (flwr 1.42 names).
    pub fn flags(&self) -> Vec<String> {
        let mut v = vec!["--superlink".to_string(), self.superlink.clone()];
        match &self.root_certificates {
            Some(p) => {
                v.push("--root-certificates".into());
                v.push(p.clone());
            }
            None => v.push("--insecure".into()),
        }
        if self.max_retries > 0 {
            v.push("--max-retries".into());
            v.push(self.max_retries.to_string());
        }
        if self.max_wait_time > 0 {
            v.push("--max-wait-time".into());
            v.push(self.max_wait_time.to_string());
        }
        if let Some(nc) = self.node_config.as_deref().filter(|s| !s.is_empty()) {
            v.push("--node-config".into());
            v.push(nc.to_string());
        }
        v.push("--isolation".into());
        v.push(self.isolation.clone());
        v
    }

    fn placeholder(&self, name: &str) -> Option<String> {
        Some(match name {
            "superlink" => self.superlink.clone(),
            "root_certificates" => self.root_certificates.clone().unwrap_or_default(),
            "node_config" => self.node_config.clone().unwrap_or_default(),
            "isolation" => self.isolation.clone(),
            "max_retries" => self.max_retries.to_string(),
            "max_wait_time" => self.max_wait_time.to_string(),
            _ => return None,
        })
    }
}

/// Split `--supernode-cmd` into words (no shell involved).
pub fn split_command(cmd: &str) -> Result<Vec<String>, String> {
    let words = shell_words::split(cmd).map_err(|e| format!("--supernode-cmd: {e}"))?;
    if words.is_empty() {
        return Err("--supernode-cmd: empty command".into());
    }
    Ok(words)
}

/// Names of `{placeholders}` in `word` (lower-case letters and `_`).
fn placeholders(word: &str) -> Vec<(usize, usize)> {
    let b = word.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_lowercase() || b[j] == b'_') {
                j += 1;
            }
            if j > i + 1 && j < b.len() && b[j] == b'}' {
                out.push((i, j + 1));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Check a template's placeholders without values (used at config time).
pub fn check_template(words: &[String]) -> Result<(), String> {
    let probe = SupernodeParams {
        superlink: String::new(),
        root_certificates: None,
        max_retries: 0,
        max_wait_time: 0,
        node_config: None,
        isolation: String::new(),
    };
    build_argv(words, &probe).map(|_| ())
}

/// The final argv: the template with placeholders replaced, or with the
/// generated flags appended when it has none.
pub fn build_argv(template: &[String], p: &SupernodeParams) -> Result<Vec<String>, String> {
    let mut any = false;
    let mut argv = Vec::new();
    for word in template {
        if word == "{flags}" {
            any = true;
            argv.extend(p.flags());
            continue;
        }
        let spans = placeholders(word);
        if spans.is_empty() {
            argv.push(word.clone());
            continue;
        }
        let mut out = String::new();
        let mut last = 0;
        for (s, e) in spans {
            let name = &word[s + 1..e - 1];
            let value = if name == "flags" {
                return Err("{flags} must be a whole word of the SuperNode command".into());
            } else {
                p.placeholder(name).ok_or_else(|| {
                    format!(
                        "unknown placeholder {{{name}}} in the SuperNode command; allowed: \
                         {{flags}} {{superlink}} {{root_certificates}} {{node_config}} \
                         {{isolation}} {{max_retries}} {{max_wait_time}}"
                    )
                })?
            };
            any = true;
            out.push_str(&word[last..s]);
            out.push_str(&value);
            last = e;
        }
        out.push_str(&word[last..]);
        argv.push(out);
    }
    if !any {
        argv.extend(p.flags());
    }
    if argv.is_empty() {
        return Err("empty SuperNode command".into());
    }
    Ok(argv)
}

/// Human-readable exit description: `code=N` or `signal=N`.
pub fn describe_exit(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("code={c}"),
        (None, Some(s)) => format!("signal={s}"),
        _ => "unknown".into(),
    }
}

/// A running SuperNode process (its own process group, so stopping it also
/// reaches the ClientApp processes it started).
pub struct Running {
    child: Child,
    /// When it was started.
    pub started: Instant,
}

impl Running {
    /// Start `argv` directly (never through a shell) with the token variables
    /// removed from its environment, `STAMEN_STATUS_SOCKET` set to `socket`
    /// (so ClientApps find the agent), stdin from /dev/null and
    /// stdout/stderr inherited (the journal gets them).
    pub fn spawn(argv: &[String], socket: &std::path::Path) -> io::Result<Self> {
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty argv"))?;
        let mut cmd = Command::new(prog);
        cmd.args(args).stdin(Stdio::null()).process_group(0);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        cmd.env("STAMEN_STATUS_SOCKET", socket);
        let child = cmd.spawn()?;
        Ok(Running {
            child,
            started: Instant::now(),
        })
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reap without blocking: `Some(status)` once it has exited.
    ///
    /// Before reaping, the rest of its process group (ClientApps it started)
    /// gets SIGKILL, so a crashed SuperNode leaves no orphans behind for its
    /// successor. This is done while the exited child is still a zombie:
    /// its PID, and so the group ID, cannot be reused by then.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if exited_unreaped(self.child.id())? {
            signal_group(self.child.id() as libc::pid_t, libc::SIGKILL);
        }
        self.child.try_wait()
    }

    /// SIGTERM to the process group, wait up to `grace`, then SIGKILL.
    /// Returns the exit status and whether SIGKILL was needed.
    pub fn stop(mut self, grace: Duration) -> io::Result<(ExitStatus, bool)> {
        if let Some(st) = self.try_wait()? {
            return Ok((st, false));
        }
        let pgid = self.child.id() as libc::pid_t;
        signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait()? {
                // Leave no stragglers in the group.
                signal_group(pgid, libc::SIGKILL);
                return Ok((st, false));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group(pgid, libc::SIGKILL);
        let st = self.child.wait()?;
        Ok((st, true))
    }
}

/// Whether `pid` (our child) has exited, without reaping it.
#[allow(unsafe_code)]
fn exited_unreaped(pid: u32) -> io::Result<bool> {
    // SAFETY: siginfo_t is plain old data; zeroed is a valid value, and
    // waitid(2) only writes into the struct we pass. WNOWAIT leaves the
    // child waitable, so std's `Child::try_wait` still reaps it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        // ECHILD: already reaped; let try_wait report it.
        return if e.raw_os_error() == Some(libc::ECHILD) {
            Ok(false)
        } else {
            Err(e)
        };
    }
    // With WNOHANG and no state change, si_pid stays 0.
    // SAFETY: reading a field of an initialised siginfo_t.
    Ok(unsafe { info.si_pid() } != 0)
}

#[allow(unsafe_code)]
fn signal_group(pgid: libc::pid_t, sig: libc::c_int) {
    if pgid <= 0 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; it has no
    // memory-safety preconditions. Errors (ESRCH: group already gone) are
    // expected and ignored.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SupernodeParams {
        SupernodeParams {
            superlink: "10.0.0.5:8000".into(),
            root_certificates: None,
            max_retries: 0,
            max_wait_time: 30,
            node_config: Some("partition-id=0 num-partitions=2".into()),
            isolation: "subprocess".into(),
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_flags() {
        let argv = build_argv(&s(&["flower-supernode"]), &params()).unwrap();
        assert_eq!(
            argv,
            s(&[
                "flower-supernode",
                "--superlink",
                "10.0.0.5:8000",
                "--insecure",
                "--max-wait-time",
                "30",
                "--node-config",
                "partition-id=0 num-partitions=2",
                "--isolation",
                "subprocess"
            ])
        );
    }

    #[test]
    fn tls_flags() {
        let mut p = params();
        p.root_certificates = Some("/var/lib/stamen/ca.pem".into());
        p.max_retries = 5;
        p.node_config = None;
        assert_eq!(
            p.flags(),
            s(&[
                "--superlink",
                "10.0.0.5:8000",
                "--root-certificates",
                "/var/lib/stamen/ca.pem",
                "--max-retries",
                "5",
                "--max-wait-time",
                "30",
                "--isolation",
                "subprocess"
            ])
        );
    }

    #[test]
    fn placeholders_substitute_and_suppress_append() {
        let t =
            split_command("docker run --rm img:1 flower-supernode {flags} --port 9095").unwrap();
        let argv = build_argv(&t, &params()).unwrap();
        assert_eq!(
            argv[..5],
            s(&["docker", "run", "--rm", "img:1", "flower-supernode"])[..]
        );
        assert_eq!(argv[5], "--superlink");
        assert_eq!(argv[argv.len() - 2..], s(&["--port", "9095"])[..]);

        let t = s(&["prog", "--to={superlink}", "{isolation}", "{json}x"]);
        let err = build_argv(&t, &params()).unwrap_err();
        assert!(err.contains("unknown placeholder {json}"), "{err}");
        let t = s(&["prog", "--to={superlink}", "{isolation}", "{not-a-name}"]);
        assert_eq!(
            build_argv(&t, &params()).unwrap(),
            s(&["prog", "--to=10.0.0.5:8000", "subprocess", "{not-a-name}"])
        );
        assert!(build_argv(&s(&["p", "x{flags}"]), &params()).is_err());
    }

    #[test]
    fn split_is_shell_words_without_shell() {
        assert_eq!(
            split_command("sh -c 'echo $HOME; exit 3'").unwrap(),
            s(&["sh", "-c", "echo $HOME; exit 3"])
        );
        assert!(split_command("").is_err());
        assert!(split_command("unterminated 'quote").is_err());
    }

    #[test]
    fn spawn_scrubs_token_and_stop_terminates() {
        std::env::set_var("TOKENTXT", "s3cret-token-value");
        let r = Running::spawn(
            &s(&["sh", "-c", "exec sleep 30"]),
            std::path::Path::new("/x.sock"),
        )
        .unwrap();
        // Until exec completes /proc shows the forked parent's environment.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", r.pid())).unwrap_or_default();
            if cmdline.starts_with(b"sleep") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let environ = std::fs::read(format!("/proc/{}/environ", r.pid())).unwrap_or_default();
        std::env::remove_var("TOKENTXT");
        let (st, killed) = r.stop(Duration::from_secs(5)).unwrap();
        assert!(!killed);
        assert_eq!(st.signal(), Some(libc::SIGTERM));
        let text = String::from_utf8_lossy(&environ);
        assert!(!text.contains("s3cret-token-value"));
        assert!(text.contains("STAMEN_STATUS_SOCKET=/x.sock"));
    }

    #[test]
    fn crash_leaves_no_orphans_in_the_group() {
        // The "SuperNode" starts a long-lived helper, then dies.
        let dir = std::env::temp_dir().join(format!("stamen-orphan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("helper.pid");
        let script = format!("sleep 300 & echo $! > {}; exit 7", pidfile.display());
        let mut r =
            Running::spawn(&s(&["sh", "-c", &script]), std::path::Path::new("/x.sock")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let st = loop {
            if let Some(st) = r.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < deadline, "child did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(st.code(), Some(7));
        let helper: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            let stat = std::fs::read_to_string(format!("/proc/{helper}/stat")).unwrap_or_default();
            stat.is_empty()
                || stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
        });
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(gone, "helper {helper} survived its SuperNode");
    }

    #[test]
    fn stop_escalates_to_sigkill() {
        let r = Running::spawn(
            &s(&["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]),
            std::path::Path::new("/x.sock"),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200)); // let the trap be set
        let (st, killed) = r.stop(Duration::from_millis(300)).unwrap();
        assert!(killed);
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }
}
