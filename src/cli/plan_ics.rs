//! `loa plan --format ics`: the plan as an iCalendar file (RFC 5545) for staff calendars.
//!
//! One event per occurrence of a step (its channels listed), at the instant it will be sent;
//! its summary names the step by its `title:` when it has one, the description by its id.

use chrono::{Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike};

use super::format::thousands;
use super::plan::Entry;
use crate::campaign::Campaign;

pub(super) fn calendar(campaign: &Campaign, entries: &[Entry]) -> String {
    let mut cal = Calendar::new();
    cal.name(&campaign.title)
        .description(&format!("loa: {}", campaign.id))
        .timezone(campaign.calendar.tz.name());
    let mut i = 0;
    while i < entries.len() {
        let e = &entries[i];
        // Entries of one occurrence (one per channel) are adjacent: same step, same instant.
        let group: Vec<&Entry> = entries[i..]
            .iter()
            .take_while(|x| x.at == e.at && x.step == e.step && x.dropped == e.dropped)
            .collect();
        i += group.len();
        if e.dropped {
            continue;
        }
        let channels: Vec<&str> = group.iter().map(|x| x.channel.as_str()).collect();
        let start = e.at.with_timezone(&Utc);
        let event = Event::new()
            .uid(&format!(
                "{}-{}-{}@loa",
                campaign.id,
                e.step,
                e.n.unwrap_or(0)
            ))
            .summary(&format!(
                "{}: {} ({})",
                e.title.as_deref().unwrap_or(&e.step),
                e.audience,
                channels.join(", ")
            ))
            .description(&format!(
                "Lần {} của bước {} — {} người nhận qua {} (theo dữ liệu hôm nay).",
                e.n.unwrap_or(0),
                e.step,
                thousands(e.recipients),
                channels.join(", ")
            ))
            .starts(start)
            .ends(start + Duration::minutes(15))
            .done();
        cal.push(event);
    }
    cal.done().to_string()
}
