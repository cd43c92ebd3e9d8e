//! The demo's stand-in SuperLink: a TCP listener on 127.0.0.1 that drives
//! training rounds over the connected stand-in SuperNodes
//! ([`super::supernode`]).
//!
//! Protocol (one text line per message):
//!
//! | direction | message |
//! |---|---|
//! | node → link | `HELLO pid=<pid> ppid=<agent pid> node_config=<text>` |
//! | link → node | `ROUND <r> <train ms>` |
//! | node → link | `RESULT <r>` |
//!
//! A connection that sends nothing (the agents' TCP reachability probes) is
//! closed quietly. The first round starts when `min_nodes` are connected
//! (or `min_wait` after the first one joined), later rounds with whoever is
//! connected; a round
//! ends when every node it was sent to has answered, left, or the round's
//! deadline passed. Stopping the link closes every connection, which makes
//! the SuperNodes exit.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the SuperLink reports to the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkEvent {
    /// A SuperNode said hello.
    Joined {
        /// Node number given by the link (1, 2, …).
        node: u64,
        /// PID of the SuperNode process.
        pid: u32,
        /// PID of its parent (the `stamen run` agent).
        ppid: u32,
        /// The node config it was started with.
        node_config: String,
    },
    /// A SuperNode's connection closed.
    Left {
        /// Node number.
        node: u64,
    },
    /// A round was sent to these nodes.
    RoundStarted {
        /// Round number (from 1).
        round: u64,
        /// Node numbers.
        nodes: Vec<u64>,
    },
    /// A node returned its result.
    Result {
        /// Round number.
        round: u64,
        /// Node number.
        node: u64,
    },
    /// A round ended.
    RoundDone {
        /// Round number.
        round: u64,
        /// Results received.
        results: usize,
        /// Nodes the round was sent to.
        expected: usize,
    },
}

/// Round pacing.
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    /// How long each node trains per round.
    pub train: Duration,
    /// Pause between two rounds (aggregation).
    pub gap: Duration,
    /// Before the first round, wait for this many nodes (Flower's
    /// `min_available_clients`)…
    pub min_nodes: usize,
    /// …but no longer than this after the first one joined.
    pub min_wait: Duration,
}

enum Msg {
    Hello {
        node: u64,
        stream: TcpStream,
        pid: u32,
        ppid: u32,
        node_config: String,
    },
    Result {
        node: u64,
        round: u64,
    },
    Left {
        node: u64,
    },
}

/// A running stand-in SuperLink; [`StandInLink::stop`] (or drop) closes it.
pub struct StandInLink {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl StandInLink {
    /// Binds `127.0.0.1:0` and starts the acceptor and round threads.
    pub fn start(
        cfg: LinkConfig,
        events: impl Fn(LinkEvent) + Send + Sync + 'static,
    ) -> std::io::Result<StandInLink> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Msg>();
        let events = Arc::new(events);
        let next_node = Arc::new(AtomicU64::new(1));
        let acceptor = {
            let stop = stop.clone();
            std::thread::spawn(move || accept_loop(listener, stop, tx, next_node))
        };
        let driver = {
            let stop = stop.clone();
            std::thread::spawn(move || drive(cfg, stop, rx, &*events))
        };
        Ok(StandInLink {
            addr,
            stop,
            threads: vec![acceptor, driver],
        })
    }

    /// The Fleet API address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the listener and every connection and waits for the threads
    /// (each polls at most every 100 ms).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for StandInLink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<Msg>,
    next_node: Arc<AtomicU64>,
) {
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (tx, stop, next) = (tx.clone(), stop.clone(), next_node.clone());
                readers.push(std::thread::spawn(move || {
                    read_conn(stream, stop, tx, next)
                }));
                readers.retain(|h| !h.is_finished());
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    drop(listener);
    for h in readers {
        let _ = h.join();
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = line.get(start..)?;
    if key == "node_config" {
        return Some(rest.trim_end());
    }
    Some(rest.split_whitespace().next().unwrap_or(""))
}

fn read_conn(
    stream: TcpStream,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<Msg>,
    next_node: Arc<AtomicU64>,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut node = None;
    let hello_deadline = Instant::now() + Duration::from_secs(2);
    while !stop.load(Ordering::SeqCst) {
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if line.ends_with('\n') => {
                let msg = line.trim_end().to_string();
                line.clear();
                match node {
                    None if msg.starts_with("HELLO ") => {
                        let id = next_node.fetch_add(1, Ordering::SeqCst);
                        node = Some(id);
                        let pid = field(&msg, "pid").and_then(|p| p.parse().ok());
                        let ppid = field(&msg, "ppid").and_then(|p| p.parse().ok());
                        let Ok(w) = writer.try_clone() else { break };
                        let _ = tx.send(Msg::Hello {
                            node: id,
                            stream: w,
                            pid: pid.unwrap_or(0),
                            ppid: ppid.unwrap_or(0),
                            node_config: field(&msg, "node_config").unwrap_or("").to_string(),
                        });
                    }
                    None => break,
                    Some(id) => {
                        let round = msg
                            .strip_prefix("RESULT ")
                            .and_then(|r| r.trim().parse::<u64>().ok());
                        if let Some(round) = round {
                            let _ = tx.send(Msg::Result { node: id, round });
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // A reachability probe connects and sends nothing.
                if node.is_none() && Instant::now() > hello_deadline {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
    if let Some(id) = node {
        let _ = tx.send(Msg::Left { node: id });
    }
}

struct Round {
    number: u64,
    waiting: Vec<u64>,
    results: usize,
    expected: usize,
    deadline: Instant,
}

fn drive(cfg: LinkConfig, stop: Arc<AtomicBool>, rx: mpsc::Receiver<Msg>, ev: &dyn Fn(LinkEvent)) {
    let mut nodes: BTreeMap<u64, TcpStream> = BTreeMap::new();
    let mut round: Option<Round> = None;
    let mut last_round = 0u64;
    let mut next_start = Instant::now();
    let mut first_join: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Msg::Hello {
                node,
                stream,
                pid,
                ppid,
                node_config,
            }) => {
                nodes.insert(node, stream);
                first_join.get_or_insert_with(Instant::now);
                ev(LinkEvent::Joined {
                    node,
                    pid,
                    ppid,
                    node_config,
                });
            }
            Ok(Msg::Result { node, round: r }) => {
                if let Some(cur) = round.as_mut().filter(|c| c.number == r) {
                    if let Some(i) = cur.waiting.iter().position(|&n| n == node) {
                        cur.waiting.swap_remove(i);
                        cur.results += 1;
                        ev(LinkEvent::Result { round: r, node });
                    }
                }
            }
            Ok(Msg::Left { node }) => {
                nodes.remove(&node);
                if let Some(cur) = round.as_mut() {
                    cur.waiting.retain(|&n| n != node);
                }
                ev(LinkEvent::Left { node });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if let Some(cur) = &round {
            if cur.waiting.is_empty() || now >= cur.deadline {
                ev(LinkEvent::RoundDone {
                    round: cur.number,
                    results: cur.results,
                    expected: cur.expected,
                });
                round = None;
                next_start = now + cfg.gap;
            }
        }
        let quorum = last_round > 0
            || nodes.len() >= cfg.min_nodes
            || first_join.is_some_and(|t| now >= t + cfg.min_wait);
        if round.is_none() && !nodes.is_empty() && quorum && now >= next_start {
            last_round += 1;
            let msg = format!("ROUND {last_round} {}\n", cfg.train.as_millis());
            let mut sent = Vec::new();
            nodes.retain(|&id, s| {
                let ok = s.write_all(msg.as_bytes()).is_ok();
                if ok {
                    sent.push(id);
                }
                ok
            });
            if sent.is_empty() {
                last_round -= 1;
                continue;
            }
            ev(LinkEvent::RoundStarted {
                round: last_round,
                nodes: sent.clone(),
            });
            round = Some(Round {
                number: last_round,
                expected: sent.len(),
                waiting: sent,
                results: 0,
                deadline: now + cfg.train + Duration::from_secs(3),
            });
        }
    }
    for s in nodes.values() {
        let _ = s.shutdown(Shutdown::Both);
    }
}
