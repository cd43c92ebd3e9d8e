//! Signals as events of the single event loop.
//!
//! Each handled signal sets an atomic flag and writes a byte into a
//! non-blocking self-pipe (a Unix stream pair). The event loop polls the read
//! end together with the status socket, so a signal wakes it at once and no
//! extra thread is needed. SIGCHLD is included so a child's exit is noticed
//! immediately instead of at the next timeout.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook::SigId;

/// What the signals asked for since the last [`Signals::take`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// SIGTERM or SIGINT: shut down.
    pub terminate: bool,
    /// SIGHUP: reload the context.
    pub reload: bool,
    /// SIGCHLD: a child changed state; reap it.
    pub child: bool,
}

/// Installed handlers; dropping this unregisters them.
pub struct Signals {
    read: UnixStream,
    terminate: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
    child: Arc<AtomicBool>,
    ids: Vec<SigId>,
}

impl Signals {
    /// Install handlers for SIGTERM, SIGINT, SIGHUP and SIGCHLD.
    pub fn install() -> io::Result<Self> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let terminate = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        let child = Arc::new(AtomicBool::new(false));
        let mut ids = Vec::new();
        for (sig, flag) in [
            (SIGTERM, &terminate),
            (SIGINT, &terminate),
            (SIGHUP, &reload),
            (SIGCHLD, &child),
        ] {
            // The flag is registered first so it is set before the wake-up
            // byte is seen by the loop.
            ids.push(signal_hook::flag::register(sig, Arc::clone(flag))?);
            ids.push(signal_hook::low_level::pipe::register(
                sig,
                write.try_clone()?,
            )?);
        }
        Ok(Signals {
            read,
            terminate,
            reload,
            child,
            ids,
        })
    }

    /// File descriptor to poll for readability.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Drain the wake-up pipe and return (and clear) the pending requests.
    pub fn take(&mut self) -> Pending {
        let mut buf = [0u8; 64];
        loop {
            match self.read.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(_) => break, // WouldBlock (drained) or nothing more to read
            }
        }
        Pending {
            terminate: self.terminate.swap(false, Ordering::SeqCst),
            reload: self.reload.swap(false, Ordering::SeqCst),
            child: self.child.swap(false, Ordering::SeqCst),
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
