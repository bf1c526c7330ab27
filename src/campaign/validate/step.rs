//! `steps:`: each step names an audience, its channels, a template and a `send` block,
//! all of which must exist; ids are unique.

use std::collections::HashSet;

use indexmap::IndexMap;

use super::{Names, is_slug, occurrences, reference, send};
use crate::campaign::check::Checker;
use crate::campaign::locate::FieldPath;
use crate::campaign::model::Step;
use crate::campaign::spec::{OneOrMany, StepSpec};
use crate::schedule::{Calendar, DateRange};

pub(super) fn steps(
    specs: &[StepSpec],
    names: &Names<'_>,
    windows: &IndexMap<String, DateRange>,
    period: Option<DateRange>,
    calendar: Option<&Calendar>,
    c: &mut Checker<'_>,
) -> Vec<Step> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let path = FieldPath::root().key("steps").index(i);
        if let Some(id) = &spec.id
            && !seen.insert(id.clone())
        {
            c.error(
                &path.key("id"),
                format!("step id {id:?} is used twice"),
                "give every step its own id",
            );
        }
        if let Some((step, send_ok)) = step(spec, &path, names, windows, period, c) {
            if let Some(cal) = calendar.filter(|_| send_ok) {
                occurrences::check(&step, &path.key("send"), cal, c);
            }
            out.push(step);
        }
    }
    if specs.is_empty() {
        c.warning(
            &FieldPath::root(),
            "the campaign has no steps",
            "add `steps:`; nothing will be sent",
        );
    }
    out
}

/// The step, and whether its `send` is valid. A step whose `send` is not is still returned,
/// with a placeholder schedule, for the checks of its template and data; its error is
/// reported.
fn step(
    spec: &StepSpec,
    path: &FieldPath,
    names: &Names<'_>,
    windows: &IndexMap<String, DateRange>,
    period: Option<DateRange>,
    c: &mut Checker<'_>,
) -> Option<(Step, bool)> {
    let id = step_id(spec.id.as_deref(), path, c);
    let audience = reference(
        spec.audience.as_deref(),
        &path.key("audience"),
        "audience",
        &names.audiences,
        c,
    );
    let channels = step_channels(spec, path, names, c);
    let fallback = fallback(spec.fallback.as_deref(), &channels, path, names, c);
    let template = reference(
        spec.template.as_deref(),
        &path.key("template"),
        "template",
        &names.templates,
        c,
    );
    let send = send::send(
        spec.send.as_ref(),
        &path.key("send"),
        names,
        windows,
        period,
        c,
    );
    let send_ok = send.is_some();
    let send = send.unwrap_or_else(send::placeholder);
    let step = Step {
        id: id?,
        audience: audience?,
        condition: spec.condition.clone(),
        channels,
        fallback,
        template: template?,
        to: spec.to.clone(),
        schedule: send.schedule,
        within: send.within,
        send_text: send.text,
    };
    Some((step, send_ok))
}

/// Step ids may also hold `_`, unlike campaign ids.
fn step_id(id: Option<&str>, path: &FieldPath, c: &mut Checker<'_>) -> Option<String> {
    match id {
        Some(id) if is_slug(&id.replace('_', "-")) => Some(id.to_string()),
        Some(id) => {
            c.error(
                &path.key("id"),
                format!("step id {id:?} is not valid"),
                "use lower-case letters, digits, - and _",
            );
            None
        }
        None => {
            c.missing(&path.key("id"), "add `id: weekly-reminder`");
            None
        }
    }
}

fn step_channels(
    spec: &StepSpec,
    path: &FieldPath,
    names: &Names<'_>,
    c: &mut Checker<'_>,
) -> Vec<String> {
    let Some(list) = spec.channel.as_ref() else {
        c.missing(
            &path.key("channel"),
            format!("name a channel: {}", names.channels.join(", ")),
        );
        return Vec::new();
    };
    let list = match list {
        OneOrMany::One(s) => vec![(path.key("channel"), s.as_str())],
        OneOrMany::Many(v) => v
            .iter()
            .enumerate()
            .map(|(i, s)| (path.key("channel").index(i), s.as_str()))
            .collect(),
    };
    list.into_iter()
        .filter_map(|(p, name)| reference(Some(name), &p, "channel", &names.channels, c))
        .collect()
}

/// The channel used when the step's own fail for good or have no address for a row; it
/// must be another one.
fn fallback(
    fallback: Option<&str>,
    channels: &[String],
    path: &FieldPath,
    names: &Names<'_>,
    c: &mut Checker<'_>,
) -> Option<String> {
    let f = reference(
        Some(fallback?),
        &path.key("fallback"),
        "channel",
        &names.channels,
        c,
    )?;
    if channels.contains(&f) {
        c.error(
            &path.key("fallback"),
            "the fallback is also one of the step's channels",
            "pick another channel",
        );
    }
    Some(f)
}
