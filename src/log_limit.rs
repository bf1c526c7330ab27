//! Log lines that a client can cause, written at most once per kind per interval.
//!
//! One client posting unsigned callbacks wrote 472,244 warning lines (32 MB) in ten
//! seconds: every refusal logged its own line. A [`LogLimit`] lets the first line of a kind
//! through, leaves out the others for an interval, and lets the next one through with the
//! number left out meanwhile, so the log keeps its signal and a flood costs a line per
//! interval. The counts themselves stay exact in `/metrics` (`loa_callback_rejected_total`).
//! Lines left out at the end of a flood are not written later; the next line of that kind
//! (or `/metrics`) tells how many there were.
//!
//! The caller passes the time, so tests drive the limiter with their own clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The interval of the HTTP side's limited lines (refused callbacks, logins, replays).
pub(crate) const EVERY: Duration = Duration::from_secs(10);

/// Per kind of line: at most one line per `every`.
#[derive(Debug)]
pub(crate) struct LogLimit {
    every: i64,
    kinds: Mutex<HashMap<&'static str, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// Lines of this kind are left out until then (epoch ms).
    until: i64,
    /// How many were left out since the last line written.
    left_out: u64,
}

impl LogLimit {
    /// A limiter letting one line of each kind through per `every`.
    pub(crate) fn new(every: Duration) -> LogLimit {
        LogLimit {
            every: i64::try_from(every.as_millis()).unwrap_or(i64::MAX),
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a line of `kind` may be written at `now` (epoch ms): `Some(n)`, `n` being
    /// how many lines of that kind were left out since the last one written, or `None`:
    /// leave this one out (it is counted for the next).
    pub(crate) fn admit(&self, kind: &'static str, now: i64) -> Option<u64> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        let window = kinds.entry(kind).or_insert(Window {
            until: i64::MIN,
            left_out: 0,
        });
        if now < window.until {
            window.left_out += 1;
            return None;
        }
        let left_out = window.left_out;
        *window = Window {
            until: now.saturating_add(self.every),
            left_out: 0,
        };
        Some(left_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_788_742_800_000;

    #[test]
    fn the_first_line_of_a_kind_goes_through_and_the_flood_after_it_does_not() {
        let limit = LogLimit::new(Duration::from_secs(10));
        assert_eq!(limit.admit("unsigned", T0), Some(0));
        let written = (1..10_000)
            .filter(|i| limit.admit("unsigned", T0 + i).is_some())
            .count();
        assert_eq!(written, 0);
    }

    #[test]
    fn the_next_line_after_the_interval_says_how_many_were_left_out() {
        let limit = LogLimit::new(Duration::from_secs(10));
        assert_eq!(limit.admit("unsigned", T0), Some(0));
        for i in 1..=41 {
            assert_eq!(limit.admit("unsigned", T0 + i * 100), None);
        }
        assert_eq!(limit.admit("unsigned", T0 + 9_999), None);
        assert_eq!(limit.admit("unsigned", T0 + 10_000), Some(42));
        // The count starts again.
        assert_eq!(limit.admit("unsigned", T0 + 10_001), None);
        assert_eq!(limit.admit("unsigned", T0 + 20_000), Some(1));
        // A quiet kind writes every line, each with nothing left out.
        assert_eq!(limit.admit("unsigned", T0 + 90_000), Some(0));
    }

    #[test]
    fn kinds_are_limited_separately() {
        let limit = LogLimit::new(Duration::from_secs(10));
        assert_eq!(limit.admit("unsigned", T0), Some(0));
        assert_eq!(limit.admit("stale", T0 + 1), Some(0));
        assert_eq!(limit.admit("unsigned", T0 + 2), None);
        assert_eq!(limit.admit("stale", T0 + 3), None);
        assert_eq!(limit.admit("login", T0 + 4), Some(0));
    }

    #[test]
    fn a_clock_that_steps_back_leaves_lines_out_until_the_window_ends() {
        let limit = LogLimit::new(Duration::from_secs(10));
        assert_eq!(limit.admit("unsigned", T0), Some(0));
        assert_eq!(limit.admit("unsigned", T0 - 60_000), None);
        assert_eq!(limit.admit("unsigned", T0 + 10_000), Some(1));
    }
}
