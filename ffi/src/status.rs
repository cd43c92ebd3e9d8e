//! FL status (SPEC §4): OneGate form bodies, the publish tracker and the
//! IPC datagram Flower apps send to the agent.

use crate::backoff::{from_c as backoff_from_c, stamen_backoff_config};
use crate::result::stamen_result::{self, *};
use crate::util::{opaque_fits, out_write, Opaque};
use stamen_core::form::{self, FormError};
use stamen_core::ipc::{self, IpcError, Report};
use stamen_core::status::{ClientStatus, FlStatus, PublishReason, StatusTracker, TrackerConfig};

/// `FL_CLIENT_STATUS` codes (pass as `uint32_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_client_status {
    /// 1: connected, waiting for work.
    STAMEN_CLIENT_IDLE = 1,
    /// 2: running a train/evaluate message.
    STAMEN_CLIENT_TRAINING = 2,
    /// 3: the SuperNode lost the SuperLink or is not running.
    STAMEN_CLIENT_DISCONNECTED = 3,
}

/// The FL metrics one SuperNode VM publishes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct stamen_fl_status {
    /// `FL_CLIENT_STATUS`: a `stamen_client_status` (1, 2 or 3).
    pub status: u32,
    /// `FL_TRAINING_ACTIVE`: 1 or 0 (normally 1 exactly when TRAINING).
    pub training_active: u8,
    /// `FL_ROUND_NUMBER`: the last round seen.
    pub round: u64,
}

fn status_from_c(s: &stamen_fl_status) -> Result<FlStatus, stamen_result> {
    let code = u8::try_from(s.status).map_err(|_| STAMEN_RESULT_INVALID_ARGUMENT)?;
    let status = ClientStatus::from_code(code).ok_or(STAMEN_RESULT_INVALID_ARGUMENT)?;
    let training_active = crate::util::flag(s.training_active)?;
    Ok(FlStatus {
        status,
        training_active,
        round: s.round,
    })
}

fn status_to_c(s: &FlStatus) -> stamen_fl_status {
    stamen_fl_status {
        status: u32::from(s.status.code()),
        training_active: s.training_active_code(),
        round: s.round,
    }
}

fn form_err(e: FormError) -> stamen_result {
    match e {
        FormError::BufferTooSmall { .. } => STAMEN_RESULT_BUFFER_TOO_SMALL,
        FormError::InvalidKey { .. } => STAMEN_RESULT_FORM_INVALID_KEY,
        _ => STAMEN_RESULT_FORM_INVALID_VALUE,
    }
}

/// A buffer of this many bytes always holds a status body.
pub const STAMEN_STATUS_BODY_MAX: usize = 128;

/// The `PUT /vm` form body publishing `status`:
/// `data=FL_CLIENT_STATUS%3D2%0AFL_TRAINING_ACTIVE%3D1%0AFL_ROUND_NUMBER%3D3&type=1`
/// (send it with `Content-Type: application/x-www-form-urlencoded`).
///
/// # Safety
/// `status` is readable, `buf` has `len` writable bytes, `written` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_status_body(
    status: *const stamen_fl_status,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> stamen_result {
    ffi_boundary! {{
        let status = try_ref!(status);
        let out = try_slice_mut!(buf, len);
        let written = try_out!(written);
        let s = tri!(status_from_c(status));
        let n = tri!(form::status_body(&s, out).map_err(form_err));
        out_write(written, n);
        STAMEN_RESULT_OK
    }}
}

/// The start attributes, published once:
/// `FL_NODE_READY=YES`, `FL_NODE_ID=<vmid>`, `FL_VERSION=<version>`.
///
/// # Safety
/// `version` has `version_len` readable bytes; `buf` `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn stamen_start_body(
    vmid: u64,
    version: *const core::ffi::c_char,
    version_len: usize,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> stamen_result {
    ffi_boundary! {{
        let version = try_str!(version, version_len);
        let out = try_slice_mut!(buf, len);
        let written = try_out!(written);
        let n = tri!(form::start_body(vmid, version, out).map_err(form_err));
        out_write(written, n);
        STAMEN_RESULT_OK
    }}
}

/// `data=<urlencoded data>&type=1` for `PUT /vm`: `data` is `K=V` lines
/// separated by real newlines, sent verbatim like the official client.
///
/// # Safety
/// `data` has `data_len` readable bytes; `buf` `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn stamen_update_body(
    data: *const core::ffi::c_char,
    data_len: usize,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> stamen_result {
    ffi_boundary! {{
        let data = try_str!(data, data_len);
        let out = try_slice_mut!(buf, len);
        let written = try_out!(written);
        let n = tri!(form::update_body(data, out).map_err(form_err));
        out_write(written, n);
        STAMEN_RESULT_OK
    }}
}

/// `data=<key>&type=2` for `PUT /vm`: erases one USER_TEMPLATE attribute.
///
/// # Safety
/// `key` has `key_len` readable bytes; `buf` `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn stamen_erase_body(
    key: *const core::ffi::c_char,
    key_len: usize,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> stamen_result {
    ffi_boundary! {{
        let key = try_str!(key, key_len);
        let out = try_slice_mut!(buf, len);
        let written = try_out!(written);
        let n = tri!(form::erase_body(key, out).map_err(form_err));
        out_write(written, n);
        STAMEN_RESULT_OK
    }}
}

/// Timing of a `stamen_tracker`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_tracker_config {
    /// Minimum time between two publishes (coalescing window), ms.
    pub min_interval_ms: u64,
    /// Re-send the confirmed value this long after its confirmation; 0
    /// disables the heartbeat.
    pub heartbeat_ms: u64,
    /// Retry schedule after a failed publish (its limits are ignored: the
    /// tracker never gives up).
    pub retry: stamen_backoff_config,
}

/// The defaults: 2 s window, 5 min heartbeat, retry 1 s ×2 up to 60 s.
///
/// # Safety
/// `config` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_tracker_config_default(
    config: *mut stamen_tracker_config,
) -> stamen_result {
    ffi_boundary! {{
        let config = try_out!(config);
        let d = TrackerConfig::default();
        out_write(config, stamen_tracker_config {
            min_interval_ms: d.min_interval_ms,
            heartbeat_ms: d.heartbeat_ms,
            retry: crate::backoff::to_c(&d.retry),
        });
        STAMEN_RESULT_OK
    }}
}

/// Words in a `stamen_tracker`.
pub const STAMEN_TRACKER_WORDS: usize = 48;

/// Decides when to publish the FL status: only on change (plus a slow
/// heartbeat), coalescing bursts, never losing the newest value, retrying
/// failed publishes with backoff. Caller-owned; initialise with
/// `stamen_tracker_init`; may be copied with `memcpy`.
#[repr(C)]
pub struct stamen_tracker {
    _opaque: [u64; STAMEN_TRACKER_WORDS],
}

opaque_fits!(stamen_tracker, StatusTracker);

impl Opaque for stamen_tracker {
    type Inner = StatusTracker;
    const MAGIC: u64 = 0x7374_616d_6e74_726b; // "stamntrk"
}

/// Starts a tracker with nothing to publish; `seed` drives retry jitter.
///
/// # Safety
/// `config` is readable; `tracker` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_tracker_init(
    config: *const stamen_tracker_config,
    seed: u64,
    tracker: *mut stamen_tracker,
) -> stamen_result {
    ffi_boundary! {{
        let config = try_ref!(config);
        let tracker = try_out!(tracker);
        let retry = tri!(backoff_from_c(&config.retry));
        let cfg = TrackerConfig {
            min_interval_ms: config.min_interval_ms,
            heartbeat_ms: config.heartbeat_ms,
            retry,
        };
        stamen_tracker::store(tracker, StatusTracker::new(cfg, seed));
        STAMEN_RESULT_OK
    }}
}

/// Records the current state at `now_ms` (cheap; call it on every change).
///
/// # Safety
/// `tracker` was initialised; `status` is readable.
#[no_mangle]
pub unsafe extern "C" fn stamen_tracker_update(
    tracker: *mut stamen_tracker,
    now_ms: u64,
    status: *const stamen_fl_status,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(tracker);
        let status = try_ref!(status);
        let s = tri!(status_from_c(status));
        let mut t = *tri!(stamen_tracker::load(p));
        t.update(now_ms, s);
        stamen_tracker::store(p, t);
        STAMEN_RESULT_OK
    }}
}

/// Why a publish is handed out.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum stamen_publish_reason {
    /// The newest value differs from the confirmed one.
    STAMEN_PUBLISH_CHANGE = 0,
    /// Nothing changed; the heartbeat interval passed.
    STAMEN_PUBLISH_HEARTBEAT = 1,
    /// Retry of a failed publish (with the newest value).
    STAMEN_PUBLISH_RETRY = 2,
}

/// What `stamen_tracker_poll` hands out.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_publish {
    /// The value to publish (always the newest update).
    pub status: stamen_fl_status,
    /// A `stamen_publish_reason`.
    pub reason: u32,
}

/// What to send at `now_ms`. `STAMEN_RESULT_NOT_FOUND` when nothing is due.
/// A publish handed out is in flight until `stamen_tracker_published` or
/// `stamen_tracker_publish_failed`.
///
/// # Safety
/// `tracker` was initialised; `publish` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_tracker_poll(
    tracker: *mut stamen_tracker,
    now_ms: u64,
    publish: *mut stamen_publish,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(tracker);
        let publish = try_out!(publish);
        let mut t = *tri!(stamen_tracker::load(p));
        let got = t.poll(now_ms);
        stamen_tracker::store(p, t);
        let Some(got) = got else { return STAMEN_RESULT_NOT_FOUND };
        let reason = match got.reason {
            PublishReason::Change => stamen_publish_reason::STAMEN_PUBLISH_CHANGE,
            PublishReason::Heartbeat => stamen_publish_reason::STAMEN_PUBLISH_HEARTBEAT,
            _ => stamen_publish_reason::STAMEN_PUBLISH_RETRY,
        };
        out_write(publish, stamen_publish { status: status_to_c(&got.status), reason: reason as u32 });
        STAMEN_RESULT_OK
    }}
}

/// When `stamen_tracker_poll` will next hand out a publish if nothing
/// happens before (a time in the past means now). `STAMEN_RESULT_NOT_FOUND`
/// while a publish is in flight or when nothing is pending.
///
/// # Safety
/// `tracker` was initialised; `at_ms` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_tracker_poll_at(
    tracker: *const stamen_tracker,
    at_ms: *mut u64,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_ref!(tracker);
        let at_ms = try_out!(at_ms);
        let t = *tri!(stamen_tracker::load(p));
        let Some(at) = t.poll_at() else { return STAMEN_RESULT_NOT_FOUND };
        out_write(at_ms, at);
        STAMEN_RESULT_OK
    }}
}

/// OneGate accepted `sent` (the status of the publish) at `now_ms`.
///
/// # Safety
/// `tracker` was initialised; `sent` is readable.
#[no_mangle]
pub unsafe extern "C" fn stamen_tracker_published(
    tracker: *mut stamen_tracker,
    now_ms: u64,
    sent: *const stamen_fl_status,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(tracker);
        let sent = try_ref!(sent);
        let s = tri!(status_from_c(sent));
        let mut t = *tri!(stamen_tracker::load(p));
        t.published(now_ms, &s);
        stamen_tracker::store(p, t);
        STAMEN_RESULT_OK
    }}
}

/// The publish in flight failed at `now_ms`; the newest value is retried
/// after a backoff delay.
///
/// # Safety
/// `tracker` was initialised.
#[no_mangle]
pub unsafe extern "C" fn stamen_tracker_publish_failed(
    tracker: *mut stamen_tracker,
    now_ms: u64,
) -> stamen_result {
    ffi_boundary! {{
        let p = try_out!(tracker);
        let mut t = *tri!(stamen_tracker::load(p));
        t.publish_failed(now_ms);
        stamen_tracker::store(p, t);
        STAMEN_RESULT_OK
    }}
}

/// A buffer of this many bytes always holds an encoded IPC report.
pub const STAMEN_IPC_ENCODED_MAX: usize = 44;
const _: () = assert!(STAMEN_IPC_ENCODED_MAX == ipc::MAX_ENCODED_LEN);
/// Longest datagram `stamen_ipc_decode` accepts.
pub const STAMEN_IPC_MAX_LEN: usize = 128;
const _: () = assert!(STAMEN_IPC_MAX_LEN == ipc::MAX_LEN);

/// One report from a Flower app (`stamen/1 status=2 round=7`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct stamen_ipc_report {
    /// A `stamen_client_status`.
    pub status: u32,
    /// 1 when the report carries a round.
    pub has_round: u8,
    /// The round (when `has_round`).
    pub round: u64,
}

/// Encodes a report as the `stamen/1` datagram (no trailing newline).
///
/// # Safety
/// `report` is readable; `buf` has `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn stamen_ipc_encode(
    report: *const stamen_ipc_report,
    buf: *mut u8,
    len: usize,
    written: *mut usize,
) -> stamen_result {
    ffi_boundary! {{
        let report = try_ref!(report);
        let out = try_slice_mut!(buf, len);
        let written = try_out!(written);
        let code = tri!(u8::try_from(report.status).map_err(|_| STAMEN_RESULT_INVALID_ARGUMENT));
        let Some(status) = ClientStatus::from_code(code) else {
            return STAMEN_RESULT_INVALID_ARGUMENT;
        };
        let round = if tri!(crate::util::flag(report.has_round)) { Some(report.round) } else { None };
        let n = tri!(ipc::encode(&Report { status, round }, out).map_err(ipc_err));
        out_write(written, n);
        STAMEN_RESULT_OK
    }}
}

/// Decodes a datagram strictly; every malformed input has its own code.
///
/// # Safety
/// `datagram` has `len` readable bytes; `report` is writable.
#[no_mangle]
pub unsafe extern "C" fn stamen_ipc_decode(
    datagram: *const u8,
    len: usize,
    report: *mut stamen_ipc_report,
) -> stamen_result {
    ffi_boundary! {{
        let data = try_slice!(datagram, len);
        let report = try_out!(report);
        let r = tri!(ipc::decode(data).map_err(ipc_err));
        out_write(report, stamen_ipc_report {
            status: u32::from(r.status.code()),
            has_round: u8::from(r.round.is_some()),
            round: r.round.unwrap_or(0),
        });
        STAMEN_RESULT_OK
    }}
}

fn ipc_err(e: IpcError) -> stamen_result {
    match e {
        IpcError::TooLong { .. } => STAMEN_RESULT_IPC_TOO_LONG,
        IpcError::ControlChar { .. } => STAMEN_RESULT_IPC_CONTROL_CHAR,
        IpcError::NotUtf8 { .. } => STAMEN_RESULT_IPC_NOT_UTF8,
        IpcError::BadMagic { .. } => STAMEN_RESULT_IPC_BAD_MAGIC,
        IpcError::UnsupportedVersion { .. } => STAMEN_RESULT_IPC_UNSUPPORTED_VERSION,
        IpcError::MissingStatus { .. } => STAMEN_RESULT_IPC_MISSING_STATUS,
        IpcError::BadStatus { .. } => STAMEN_RESULT_IPC_BAD_STATUS,
        IpcError::BadRound { .. } => STAMEN_RESULT_IPC_BAD_ROUND,
        IpcError::RoundOverflow { .. } => STAMEN_RESULT_IPC_ROUND_OVERFLOW,
        IpcError::BufferTooSmall { .. } => STAMEN_RESULT_BUFFER_TOO_SMALL,
        _ => STAMEN_RESULT_IPC_UNEXPECTED_FIELD,
    }
}
