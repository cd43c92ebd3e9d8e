//! Scheduled-policy times: the cron parser (5/6 fields, names, ranges,
//! steps, `@daily` …), `next_after` at arbitrary epochs (always later, or an
//! error), and ISO-8601 `start_time` parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stamen_core::policy::schedule::Schedule;
use stamen_core::policy::time::parse_iso8601;
use stamen_core::policy::Cron;

fuzz_target!(|data: &[u8]| {
    // First 8 bytes: the epoch to start from; the rest: the text.
    let (t, text) = if data.len() >= 8 {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&data[..8]);
        (i64::from_le_bytes(raw) >> 20, &data[8..])
    } else {
        (1_700_000_000, data)
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    match Cron::parse(text) {
        Ok(c) => {
            let mut now = t;
            for _ in 0..4 {
                match c.next_after(now) {
                    Ok(next) => {
                        assert!(next > now, "{text:?}: next_after({now}) = {next}");
                        now = next;
                    }
                    Err(e) => {
                        let _ = e.to_string();
                        break;
                    }
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Err(e) = parse_iso8601(text) {
        let _ = e.to_string();
    }
    if let Ok(s) = Schedule::from_fields(Some(text), None) {
        let _ = s.planned(t);
    }
    if let Ok(s) = Schedule::from_fields(None, Some(text)) {
        let _ = s.planned(t);
    }
});
