//! Cron recurrences with parse-cron 0.1.4 semantics (what OneFlow runs).

use proptest::prelude::*;
use stamen_core::policy::time::{civil_from_epoch, parse_iso8601};
use stamen_core::policy::{Cron, CronError};

fn at(s: &str) -> i64 {
    match parse_iso8601(s) {
        Ok(t) => t,
        Err(e) => panic!("bad test time {s}: {e}"),
    }
}

fn next(spec: &str, from: &str) -> Result<i64, CronError> {
    Cron::parse(spec)?.next_after(at(from))
}

#[track_caller]
fn assert_next(spec: &str, from: &str, expected: &str) {
    assert_eq!(next(spec, from), Ok(at(expected)), "{spec} after {from}");
}

#[test]
fn steps_ranges_lists() {
    assert_next(
        "*/15 * * * *",
        "2023-11-14T12:07:30Z",
        "2023-11-14T12:15:00Z",
    );
    assert_next(
        "*/15 * * * *",
        "2023-11-14T12:45:00Z",
        "2023-11-14T13:00:00Z",
    );
    assert_next(
        "5-10/2 * * * *",
        "2023-11-14T12:07:00Z",
        "2023-11-14T12:09:00Z",
    );
    assert_next(
        "1,30 * * * *",
        "2023-11-14T12:01:00Z",
        "2023-11-14T12:30:00Z",
    );
    assert_next(
        "0 9-17 * * *",
        "2023-11-14T17:30:00Z",
        "2023-11-15T09:00:00Z",
    );
    assert_next("* * * * *", "2023-11-14T12:00:00Z", "2023-11-14T12:01:00Z");
}

#[test]
fn month_and_year_ends() {
    assert_next("0 0 1 * *", "2023-01-31T12:00:00Z", "2023-02-01T00:00:00Z");
    assert_next("0 0 1 1 *", "2023-12-31T23:59:00Z", "2024-01-01T00:00:00Z");
    assert_next(
        "59 23 31 12 *",
        "2023-12-31T23:59:00Z",
        "2024-12-31T23:59:00Z",
    );
    assert_next("0 0 31 * *", "2023-04-15T00:00:00Z", "2023-05-31T00:00:00Z");
}

#[test]
fn leap_years() {
    assert_next(
        "0 12 29 2 *",
        "2023-03-01T00:00:00Z",
        "2024-02-29T12:00:00Z",
    );
    assert_next(
        "0 12 29 2 *",
        "2024-02-28T12:00:00Z",
        "2024-02-29T12:00:00Z",
    );
    // The gem does not search further than the next matching month: when that
    // month has no matching day (February of a common year) it answers day 1.
    assert_next(
        "0 12 29 2 *",
        "2024-02-29T12:00:00Z",
        "2025-02-01T12:00:00Z",
    );
    assert_next("0 0 29 2 *", "2096-03-01T00:00:00Z", "2098-02-01T00:00:00Z");
}

#[test]
fn day_of_week_and_names() {
    // 2023-11-15 is a Wednesday; 7 is Sunday like 0.
    assert_next("0 9 * * 7", "2023-11-15T10:00:00Z", "2023-11-19T09:00:00Z");
    assert_next("0 9 * * 0", "2023-11-15T10:00:00Z", "2023-11-19T09:00:00Z");
    assert_next(
        "0 9 * * SUN",
        "2023-11-15T10:00:00Z",
        "2023-11-19T09:00:00Z",
    );
    assert_next(
        "0 9 * jan mon",
        "2023-11-14T00:00:00Z",
        "2024-01-01T09:00:00Z",
    );
    assert_next(
        "0 9 * * Mon-Fri",
        "2023-11-17T10:00:00Z",
        "2023-11-20T09:00:00Z",
    );
    assert_next(
        "0 0 1 DEC *",
        "2023-11-14T00:00:00Z",
        "2023-12-01T00:00:00Z",
    );
}

#[test]
fn either_match_when_both_days_restricted() {
    // 13th OR Friday: from Tuesday the 14th the next is Friday the 17th …
    assert_next(
        "0 0 13 * fri",
        "2023-11-14T13:00:00Z",
        "2023-11-17T00:00:00Z",
    );
    // … and from Saturday the 11th it is Monday the 13th.
    assert_next(
        "0 0 13 * fri",
        "2023-11-11T05:00:00Z",
        "2023-11-13T00:00:00Z",
    );
    // `*/1` is not the wildcard: every day matches through the DOM field.
    assert_next(
        "0 0 */1 * 1",
        "2023-11-14T13:00:00Z",
        "2023-11-15T00:00:00Z",
    );
}

#[test]
fn keywords() {
    assert_next("@hourly", "2023-11-14T12:07:00Z", "2023-11-14T13:00:00Z");
    assert_next("@daily", "2023-11-14T12:07:00Z", "2023-11-15T00:00:00Z");
    assert_next("@midnight", "2023-11-14T12:07:00Z", "2023-11-15T00:00:00Z");
    assert_next("@weekly", "2023-11-14T12:07:00Z", "2023-11-19T00:00:00Z");
    assert_next("@monthly", "2023-11-14T12:07:00Z", "2023-12-01T00:00:00Z");
    assert_next("@yearly", "2023-11-14T12:07:00Z", "2024-01-01T00:00:00Z");
    assert_next("@annually", "2023-11-14T12:07:00Z", "2024-01-01T00:00:00Z");
    assert_eq!(Cron::parse("@reboot"), Err(CronError::FieldCount));
    assert_eq!(Cron::parse("@DAILY"), Err(CronError::FieldCount));
}

#[test]
fn gem_quirks() {
    // Step 0 raises ZeroDivisionError inside the gem.
    assert_eq!(
        Cron::parse("*/0 * * * *"),
        Err(CronError::ZeroStep { field: 0 })
    );
    assert_eq!(
        Cron::parse("*/ * * * *"),
        Err(CronError::ZeroStep { field: 0 })
    );
    // Hour 24 is accepted and lands on the next midnight.
    assert_eq!(
        next("0 24 * * *", "2023-01-30T12:00:30Z"),
        Ok(1_675_123_200)
    );
    // Minute 60+ or hour 25+ parse but every `next` fails.
    assert_eq!(
        next("60 * * * *", "2023-01-30T12:00:30Z"),
        Err(CronError::InvalidTime)
    );
    assert_eq!(
        next("0 25 * * *", "2023-01-30T12:00:30Z"),
        Err(CronError::InvalidTime)
    );
    assert_eq!(
        next("5 24 * * *", "2023-01-30T12:00:30Z"),
        Err(CronError::InvalidTime)
    );
    // Month 13 fails when it is needed.
    assert_eq!(
        next("0 0 1 13 *", "2023-01-30T12:00:30Z"),
        Err(CronError::InvalidMonth)
    );
    // `N/S` is not a valid element; neither is an empty list element.
    assert_eq!(
        Cron::parse("5/10 * * * *"),
        Err(CronError::BadElement { field: 0 })
    );
    assert_eq!(
        Cron::parse("1,,2 * * * *"),
        Err(CronError::BadElement { field: 0 })
    );
    // A trailing comma is fine, a sixth field is ignored, a seventh is not.
    assert!(Cron::parse("1, * * * *").is_ok());
    assert!(Cron::parse("1 * * * * /bin/true").is_ok());
    assert_eq!(Cron::parse("1 * * * * a b"), Err(CronError::FieldCount));
    assert_eq!(Cron::parse("1 * * *"), Err(CronError::FieldCount));
    // An inverted range is empty.
    assert!(Cron::parse("0 0 5-3 * *").is_ok());
    // Feb 30 never exists: the gem falls back to day 1 of the next February.
    assert_next("0 0 30 2 *", "2023-01-15T00:00:00Z", "2024-02-01T00:00:00Z");
}

proptest! {
    #[test]
    fn iso8601_never_panics(s in "\\PC{0,40}", t in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?") {
        let _ = parse_iso8601(&s);
        if let Ok(epoch) = parse_iso8601(&t) {
            prop_assert!(civil_from_epoch(epoch).is_some());
        }
    }

    #[test]
    fn parsing_random_strings_never_panics(s in "\\PC{0,40}", t in any::<i64>()) {
        if let Ok(c) = Cron::parse(&s) {
            let _ = c.next_after(t);
        }
    }

    #[test]
    fn cron_like_strings_give_later_times(
        s in "[0-9*/,\\- a-zA-Z@]{0,30}",
        t in -4_000_000_000i64..8_000_000_000i64,
    ) {
        if let Ok(c) = Cron::parse(&s) {
            if let Ok(n) = c.next_after(t) {
                prop_assert!(n > t, "{} after {} gave {}", s, t, n);
            }
        }
    }

    #[test]
    fn next_after_is_later(
        minute in prop::sample::select(vec!["*", "0", "*/7", "5-50/15", "59", "1,2,3"]),
        hour in prop::sample::select(vec!["*", "0", "23", "*/5", "9-17", "24"]),
        dom in prop::sample::select(vec!["*", "1", "29", "31", "13", "1-7"]),
        month in prop::sample::select(vec!["*", "2", "feb", "1-6", "12", "*/3"]),
        dow in prop::sample::select(vec!["*", "0", "7", "mon-fri", "5", "sat,sun"]),
        t in 0i64..5_000_000_000i64,
    ) {
        let spec = format!("{minute} {hour} {dom} {month} {dow}");
        let cron = Cron::parse(&spec).map_err(|e| TestCaseError::fail(format!("{spec}: {e}")))?;
        if let Ok(n) = cron.next_after(t) {
            prop_assert!(n > t, "{} after {} gave {}", spec, t, n);
            // Results land on whole minutes.
            prop_assert_eq!(n.rem_euclid(60), 0);
            prop_assert!(civil_from_epoch(n).is_some());
        }
    }
}
