//! Connectivity probe: a plain TCP connect to the SuperLink address.
//!
//! The SuperNode has no public "connected" hook (SPEC §8), so reachability of
//! the SuperLink's Fleet port, together with the child being alive, stands in
//! for "connected". The connection is closed right away; nothing is sent.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Try each resolved address of `addr` (`host:port`, `[v6]:port`) with
/// `timeout` per address; `Ok` on the first successful connect.
pub fn tcp_probe(addr: &str, timeout: Duration) -> io::Result<()> {
    let addrs = addr.to_socket_addrs()?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolved to nothing");
    for sa in addrs {
        match TcpStream::connect_timeout(&sa, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn probe_open_and_closed_port() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tcp_probe(&addr, Duration::from_secs(2)).unwrap();
        drop(l);
        assert!(tcp_probe(&addr, Duration::from_secs(2)).is_err());
    }
}
