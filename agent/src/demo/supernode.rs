//! `stamen demo-supernode` (hidden): the stand-in SuperNode the demo's agents
//! supervise when no Flower is installed.
//!
//! It takes the flags `stamen run` generates for `flower-supernode`
//! (`--superlink`, `--insecure`, `--node-config`, …), connects to the demo's
//! stand-in SuperLink ([`super::superlink`]), and plays Flower training
//! rounds: for each `ROUND <r> <ms>` it reports `TRAINING round r` to the
//! agent's status socket (`STAMEN_STATUS_SOCKET`, set by `stamen run`), works
//! for `<ms>`, reports `IDLE round r` and sends `RESULT <r>`. When the
//! SuperLink goes away it reports `DISCONNECTED` and exits 1, as a SuperNode
//! that lost its SuperLink does.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args as ClapArgs;
use stamen_core::ipc::{self, Report};
use stamen_core::status::ClientStatus;

/// Flags of `flower-supernode` (flwr 1.42 names) the stand-in accepts.
#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// SuperLink Fleet API `host:port`.
    #[arg(long, value_name = "HOST:PORT")]
    pub superlink: String,
    /// Plain TCP (the stand-in has no TLS).
    #[arg(long)]
    pub insecure: bool,
    /// CA certificate (TLS is not emulated: refused).
    #[arg(long, value_name = "PATH")]
    pub root_certificates: Option<PathBuf>,
    /// Connection attempts before giving up (0 = the stand-in's default, 20).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_retries: u64,
    /// Accepted for compatibility; not used.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub max_wait_time: u64,
    /// Node config, shown to the SuperLink.
    #[arg(long, value_name = "CONFIG", default_value = "")]
    pub node_config: String,
    /// Accepted for compatibility; not used.
    #[arg(long, value_name = "MODE", default_value = "subprocess")]
    pub isolation: String,
    /// Status socket of the agent [env: STAMEN_STATUS_SOCKET].
    #[arg(long, value_name = "PATH")]
    pub status_socket: Option<PathBuf>,
}

fn say(msg: &str) {
    // One write per line: the agent's stderr is shared with the agent itself.
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("supernode: {msg}\n").as_bytes());
}

struct Reporter {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Reporter {
    fn send(&self, status: ClientStatus, round: Option<u64>) {
        let mut buf = [0u8; ipc::MAX_ENCODED_LEN];
        let Ok(n) = ipc::encode(&Report { status, round }, &mut buf) else {
            return;
        };
        if let Err(e) = self.sock.send_to(buf.get(..n).unwrap_or(&[]), &self.path) {
            say(&format!(
                "cannot report to the agent at {}: {e}",
                self.path.display()
            ));
        }
    }
}

fn connect(addr: &str, attempts: u64) -> Result<TcpStream, String> {
    let mut last = String::new();
    for i in 0..attempts.max(1) {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(500));
        }
        let targets = match addr.to_socket_addrs() {
            Ok(t) => t.collect::<Vec<_>>(),
            Err(e) => {
                last = format!("cannot resolve {addr}: {e}");
                continue;
            }
        };
        for t in targets {
            match TcpStream::connect_timeout(&t, Duration::from_secs(2)) {
                Ok(s) => return Ok(s),
                Err(e) => last = format!("cannot connect to {t}: {e}"),
            }
        }
    }
    Err(last)
}

/// Entry point of `stamen demo-supernode`.
pub fn run(args: Args) -> ExitCode {
    if args.root_certificates.is_some() && !args.insecure {
        say("TLS is not emulated by the stand-in SuperNode; use FL_TLS_ENABLED=NO");
        return ExitCode::from(2);
    }
    let Some(path) = args.status_socket.clone().or_else(|| {
        std::env::var_os("STAMEN_STATUS_SOCKET")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }) else {
        say("no status socket: set STAMEN_STATUS_SOCKET or pass --status-socket");
        return ExitCode::from(2);
    };
    let sock = match UnixDatagram::unbound() {
        Ok(s) => s,
        Err(e) => {
            say(&format!("cannot create a datagram socket: {e}"));
            return ExitCode::from(1);
        }
    };
    let rep = Reporter { sock, path };
    let attempts = if args.max_retries == 0 {
        20
    } else {
        args.max_retries
    };
    let stream = match connect(&args.superlink, attempts) {
        Ok(s) => s,
        Err(e) => {
            say(&format!("giving up: {e}"));
            rep.send(ClientStatus::Disconnected, None);
            return ExitCode::from(1);
        }
    };
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            say(&format!("socket error: {e}"));
            return ExitCode::from(1);
        }
    };
    let hello = format!(
        "HELLO pid={} ppid={} node_config={}\n",
        std::process::id(),
        std::os::unix::process::parent_id(),
        args.node_config.replace('\n', " ")
    );
    if let Err(e) = writer.write_all(hello.as_bytes()) {
        say(&format!("SuperLink closed the connection: {e}"));
        rep.send(ClientStatus::Disconnected, None);
        return ExitCode::from(1);
    }
    say(&format!(
        "connected to SuperLink {} ({})",
        args.superlink,
        if args.node_config.is_empty() {
            "no node config"
        } else {
            &args.node_config
        }
    ));
    rep.send(ClientStatus::Idle, None);
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let mut w = line.split_whitespace();
        if w.next() != Some("ROUND") {
            continue;
        }
        let (Some(Ok(round)), Some(Ok(ms))) = (
            w.next().map(str::parse::<u64>),
            w.next().map(str::parse::<u64>),
        ) else {
            say(&format!(
                "ignoring a malformed message: {:?}",
                line.trim_end()
            ));
            continue;
        };
        rep.send(ClientStatus::Training, Some(round));
        std::thread::sleep(Duration::from_millis(ms.min(60_000)));
        rep.send(ClientStatus::Idle, Some(round));
        if writer
            .write_all(format!("RESULT {round}\n").as_bytes())
            .is_err()
        {
            break;
        }
    }
    say("the SuperLink went away; exiting");
    rep.send(ClientStatus::Disconnected, None);
    ExitCode::from(1)
}
