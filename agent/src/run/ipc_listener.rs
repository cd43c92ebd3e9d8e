//! The local status socket: a Unix datagram socket Flower apps send
//! `stamen/1 status=…` reports to.
//!
//! Binding removes a stale socket left by a previous run (only if the path is
//! a socket; anything else at the path is an error), then sets mode 0660 so
//! members of the service's group may report. Receiving is non-blocking; the
//! event loop polls [`StatusSocket::fd`].

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Mode of the socket file.
pub const SOCKET_MODE: u32 = 0o660;

/// Receive buffer size: larger than the 128-byte v1 limit so an oversized
/// datagram is seen as oversized (the kernel would truncate silently).
const RECV_BUF: usize = 512;

/// A bound status socket; the file is removed on drop.
pub struct StatusSocket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl StatusSocket {
    /// Bind at `path`, replacing a stale socket, and set mode 0660. A
    /// missing parent directory is created (mode 0755) for runs outside
    /// systemd, where `RuntimeDirectory=stamen` would have made it.
    pub fn bind(path: &Path) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)?;
            }
        }
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => fs::remove_file(path)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Bind under a umask that already yields SOCKET_MODE, so the socket
        // never exists with wider permissions; the chmod below then only
        // widens a stricter process umask back to the documented mode.
        let sock = with_umask(0o777 & !SOCKET_MODE, || UnixDatagram::bind(path))?;
        sock.set_nonblocking(true)?;
        fs::set_permissions(path, fs::Permissions::from_mode(SOCKET_MODE))?;
        Ok(StatusSocket {
            sock,
            path: path.to_path_buf(),
        })
    }

    /// File descriptor to poll for readability.
    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Receive every queued datagram, calling `f` with each payload.
    /// Returns when the queue is empty (or on an error other than
    /// would-block, which is returned).
    pub fn drain(&self, mut f: impl FnMut(&[u8])) -> io::Result<()> {
        let mut buf = [0u8; RECV_BUF];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) => f(buf.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for StatusSocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Runs `f` with the process umask set to `mask`, then restores it. The
/// daemon binds its socket on its only thread, before any child starts.
#[allow(unsafe_code)]
fn with_umask<T>(mask: libc::mode_t, f: impl FnOnce() -> T) -> T {
    // SAFETY: umask(2) cannot fail and only swaps the process file-mode mask.
    let old = unsafe { libc::umask(mask) };
    let out = f();
    // SAFETY: as above; restores the previous mask.
    unsafe { libc::umask(old) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stamen-ipc-{}-{name}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        dir.join("status.sock")
    }

    #[test]
    fn bind_mode_receive_and_cleanup() {
        let path = tmp("a");
        let s = StatusSocket::bind(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let c = UnixDatagram::unbound().unwrap();
        c.send_to(b"one", &path).unwrap();
        c.send_to(&[b'x'; 300], &path).unwrap();
        let mut got = Vec::new();
        s.drain(|d| got.push(d.len())).unwrap();
        assert_eq!(got, vec![3, 300]);
        drop(s);
        assert!(!path.exists());
    }

    #[test]
    fn missing_parent_is_created() {
        let base = tmp("c").parent().unwrap().join("sub");
        let path = base.join("dir/status.sock");
        let _ = fs::remove_dir_all(&base);
        let s = StatusSocket::bind(&path).unwrap();
        assert!(path.exists());
        drop(s);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn stale_socket_replaced_regular_file_refused() {
        let path = tmp("b");
        let first = UnixDatagram::bind(&path).unwrap();
        drop(first); // leaves the file behind
        assert!(path.exists());
        let s = StatusSocket::bind(&path).unwrap();
        drop(s);
        fs::write(&path, b"not a socket").unwrap();
        let err = StatusSocket::bind(&path).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        fs::remove_file(&path).unwrap();
    }
}
