//! `steps:`: each step names an audience, its channels, a template and a `send` block,
//! all of which must exist; ids are unique.

use std::collections::HashSet;

use indexmap::IndexMap;

use super::{Names, is_slug, occurrences, reference, send};
use crate::campaign::check::Checker;
use crate::campaign::locate::FieldPath;
use crate::campaign::model::{MAX_STEP_TITLE, Step};
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
    let title = step_title(spec.title.as_deref(), path, c);
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
        title,
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

/// An optional title: some text on one line, at most [`MAX_STEP_TITLE`] characters. A bad
/// one is reported and left out, so the other checks of the step still run.
fn step_title(title: Option<&str>, path: &FieldPath, c: &mut Checker<'_>) -> Option<String> {
    let title = title?.trim();
    let problem = if title.is_empty() {
        "the step's title is empty".to_string()
    } else if title.contains(['\n', '\r']) {
        "the step's title has more than one line".to_string()
    } else if title.chars().count() > MAX_STEP_TITLE {
        format!(
            "the step's title is {} characters long, more than {MAX_STEP_TITLE}",
            title.chars().count()
        )
    } else {
        return Some(title.to_string());
    };
    c.error(
        &path.key("title"),
        problem,
        "a short line staff read in place of the id, e.g. \
         `title: \"Nhắc phụ huynh trước hạn nộp\"`, or no `title:` at all",
    );
    None
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

#[cfg(test)]
mod tests {

    use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};

    /// Loads a one-step campaign whose step has the line `title` (empty for none): the
    /// campaign, or the diagnostics.
    fn load(title: &str) -> Result<Workspace, String> {
        let dir = tempfile::tempdir().unwrap();
        crate::campaign::test_support::three_people_and_a_note(dir.path());
        let yaml = format!(
            "campaign: t1\ntitle: T1\nstatus: active\ntimezone: UTC\n\
             period: {{ start: 2026-09-01, end: 2026-09-30 }}\n\
             audiences:\n  people:\n    source: data/people.csv\n    key: id\n\
             channels:\n  mail:\n    type: smtp\n    url: \"smtp://127.0.0.1:2525\"\n    \
             from: \"Loa <loa@example.test>\"\nsteps:\n  - id: s0\n{title}    audience: people\n    \
             channel: mail\n    template: note\n    send: {{ at: \"2026-09-02 08:00\" }}\n"
        );
        std::fs::write(dir.path().join("campaigns/t1.yaml"), yaml).unwrap();
        let dirs = [dir.path().join("campaigns")];
        let opts = LoadOptions {
            env: EnvPolicy::Optional,
            data: DataScan::Headers,
        };
        let (ws, diags) = Workspace::load(&dirs, &dir.path().join("templates"), opts);
        ws.ok_or_else(|| diags.to_string())
    }

    #[test]
    fn a_step_title_is_kept_and_named_in_place_of_the_id() {
        let ws = load("    title: \"  Nhắc phụ huynh trước hạn nộp \"\n").unwrap();
        let step = &ws.campaigns[0].steps[0];
        assert_eq!(step.title.as_deref(), Some("Nhắc phụ huynh trước hạn nộp"));
        assert_eq!(step.name(), "Nhắc phụ huynh trước hạn nộp");
        let ws = load("").unwrap();
        assert_eq!(ws.campaigns[0].steps[0].title, None);
        assert_eq!(ws.campaigns[0].steps[0].name(), "s0");
    }

    #[test]
    fn an_empty_step_title_is_an_error_at_its_line() {
        let text = load("    title: \"  \"\n").err().expect("an error");
        assert!(text.contains("t1.yaml:17:12"), "{text}");
        assert!(text.contains("steps[0].title"), "{text}");
        assert!(text.contains("the step's title is empty"), "{text}");
        assert!(text.contains("Nhắc phụ huynh"), "the hint: {text}");
    }

    #[test]
    fn a_step_title_over_the_limit_is_an_error() {
        let long = "ư".repeat(super::MAX_STEP_TITLE + 1);
        let text = load(&format!("    title: \"{long}\"\n"))
            .err()
            .expect("an error");
        assert!(
            text.contains("is 121 characters long, more than 120"),
            "{text}"
        );
        let just = "ư".repeat(super::MAX_STEP_TITLE);
        assert!(load(&format!("    title: \"{just}\"\n")).is_ok());
    }

    #[test]
    fn a_step_title_on_two_lines_is_an_error() {
        let text = load("    title: \"Nhắc\\nphụ huynh\"\n")
            .err()
            .expect("an error");
        assert!(text.contains("more than one line"), "{text}");
    }
}
