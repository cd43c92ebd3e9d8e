//! INTERIM stand-ins for core APIs being written on other branches
//! (`backoff`: Backoff, StatusTracker, ipc::decode). Replaced by the real
//! ones once merged; the shapes mirror the announced APIs.

/// Exponential/fixed backoff, no jitter.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial_ms: u64,
    max_ms: u64,
    exponential: bool,
    max_attempts: u32,
    failures: u32,
}

impl Backoff {
    /// New backoff.
    pub fn new(initial_ms: u64, max_ms: u64, exponential: bool, max_attempts: u32) -> Self {
        Backoff { initial_ms, max_ms, exponential, max_attempts, failures: 0 }
    }
    /// Delay before the next attempt, `None` when attempts are exhausted.
    pub fn on_failure(&mut self, _now_ms: u64) -> Option<u64> {
        self.failures = self.failures.saturating_add(1);
        if self.max_attempts > 0 && self.failures >= self.max_attempts {
            return None;
        }
        if !self.exponential {
            return Some(self.initial_ms);
        }
        let shift = (self.failures - 1).min(40);
        Some(self.initial_ms.saturating_mul(1u64 << shift).min(self.max_ms))
    }
    /// Reset.
    pub fn on_success(&mut self) {
        self.failures = 0;
    }
    /// Failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Decoded IPC report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// 1, 2, 3.
    pub status: u8,
    /// Round.
    pub round: Option<u64>,
}

/// Decode `stamen/1 status=<1|2|3>[ round=<u64>]\n?`.
pub fn decode(b: &[u8]) -> Result<Report, &'static str> {
    if b.len() > 128 {
        return Err("datagram longer than 128 bytes");
    }
    let s = core::str::from_utf8(b).map_err(|_| "not UTF-8")?;
    let s = s.strip_suffix('\n').unwrap_or(s);
    let rest = s.strip_prefix("stamen/1 status=").ok_or("expected `stamen/1 status=`")?;
    let (st, round) = match rest.split_once(' ') {
        Some((st, r)) => {
            let r = r.strip_prefix("round=").ok_or("expected ` round=`")?;
            if r.is_empty() || !r.bytes().all(|c| c.is_ascii_digit()) {
                return Err("round is not an unsigned integer");
            }
            (st, Some(r.parse::<u64>().map_err(|_| "round out of range")?))
        }
        None => (rest, None),
    };
    let status = match st {
        "1" => 1,
        "2" => 2,
        "3" => 3,
        _ => return Err("status must be 1, 2 or 3"),
    };
    Ok(Report { status, round })
}
