//! Reading one campaign file: size cap, `${NAME}` references, YAML parse, unknown fields.
//!
//! The result is the raw [`CampaignSpec`] plus the [`Locations`] index and every problem met
//! so far; semantic checks happen in `validate`.

use std::path::Path;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::env;
use super::locate::{FieldPath, Locations, Seg};
use super::spec::CampaignSpec;

/// Campaign files are small; anything larger is a mistake or an attack
/// (docs/reliability.md#r19: size cap checked before parsing).
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// How missing `${NAME}` variables count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvPolicy {
    /// Missing variables are errors (the daemon will reach the network).
    Required,
    /// Only a warning: `--outbox` sends nothing over the network
    /// (docs/campaign-file.md#environment-variables).
    Optional,
}

/// A parsed campaign file.
pub(crate) struct Parsed {
    pub spec: CampaignSpec,
    pub locations: Locations,
}

/// Reads and parses `file`. `None` when the file could not be parsed at all.
pub(crate) fn parse_file(
    file: &Path,
    policy: EnvPolicy,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<Parsed> {
    let text = read_text(file, diags)?;
    let refs = env::references(&text);
    report_unset_variables(file, &refs, policy, lookup, diags);
    let mut options =
        serde_saphyr::Options::default().with_properties(env::properties(&refs, lookup));
    // Compose rules interpolate quoted scalars too, as docs/campaign-file.md writes
    // `url: "${LOA_SMTP_URL:-…}"`.
    options.property_syntax = serde_saphyr::PropertySyntax::DockerCompose;
    options.with_snippet = false;
    let mut unknown: Vec<FieldPath> = Vec::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(&text, options, |de| {
        serde_ignored::deserialize(de, |path| unknown.push(convert_path(&path)))
    });
    let spec: CampaignSpec = match result {
        Ok(spec) => spec,
        Err(e) => {
            diags.push(yaml_error(file, &e));
            return None;
        }
    };
    let locations = Locations::index(&text);
    report_unknown_fields(file, unknown, &locations, diags);
    Some(Parsed { spec, locations })
}

/// Each `${NAME}` without a default that the environment does not set, as an error or,
/// under [`EnvPolicy::Optional`], a warning; a `NAME_FILE` that cannot be read is an error
/// either way.
fn report_unset_variables(
    file: &Path,
    refs: &[env::EnvRef],
    policy: EnvPolicy,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) {
    for r in refs
        .iter()
        .filter(|r| !r.has_default && lookup(&r.name).is_none())
    {
        if let Some(why) = env::unreadable_file(&r.name, lookup) {
            diags.push(
                Diagnostic::error(file, why)
                    .at(r.line, r.column)
                    .hint(format!("point {}_FILE at a file loa can read", r.name)),
            );
            continue;
        }
        let d = match policy {
            EnvPolicy::Required => {
                Diagnostic::error(file, format!("environment variable {} is not set", r.name))
            }
            EnvPolicy::Optional => Diagnostic::warning(
                file,
                format!(
                    "environment variable {} is not set (ignored: --outbox sends nothing over the network)",
                    r.name
                ),
            ),
        };
        diags.push(d.at(r.line, r.column).hint(format!(
            "export {0}=… before running loa, or write ${{{0}:-default}} to give a default",
            r.name
        )));
    }
}

/// Every field the spec types do not know, at its key with a suggestion.
fn report_unknown_fields(
    file: &Path,
    unknown: Vec<FieldPath>,
    locations: &Locations,
    diags: &mut Diagnostics,
) {
    for path in unknown {
        let mut d = Diagnostic::error(file, "unknown field").field(path.to_string());
        if let Some(pos) = locations.key(&path) {
            d = d.at(pos.line, pos.column);
        }
        diags.push(d.hint(unknown_field_hint(&path)));
    }
}

fn read_text(file: &Path, diags: &mut Diagnostics) -> Option<String> {
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(e) => {
            diags.push(Diagnostic::error(
                file,
                format!("cannot read the file: {e}"),
            ));
            return None;
        }
    };
    if meta.len() > MAX_FILE_BYTES {
        diags.push(
            Diagnostic::error(
                file,
                format!(
                    "the file is {} bytes; campaign files are limited to 1 MiB",
                    meta.len()
                ),
            )
            .hint("move audience data to CSV files under campaigns/data/"),
        );
        return None;
    }
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            diags.push(Diagnostic::error(
                file,
                format!("cannot read the file: {e}"),
            ));
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(t) => Some(t.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(t)),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
            diags.push(
                Diagnostic::error(file, format!("the file is not valid UTF-8 (byte {offset})"))
                    .at_line(line)
                    .hint("save the file as UTF-8"),
            );
            None
        }
    }
}

fn yaml_error(file: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let e = e.without_snippet();
    let mut d = Diagnostic::error(file, format!("YAML: {e}"));
    if let Some(loc) = e.location()
        && loc.line() > 0
    {
        d = d.at(loc.line() as usize, loc.column() as usize);
    }
    d.hint("check indentation, quoting and that each key appears once; see docs/campaign-file.md")
}

fn convert_path(path: &serde_ignored::Path<'_>) -> FieldPath {
    use serde_ignored::Path as P;
    match path {
        P::Root => FieldPath::root(),
        P::Seq { parent, index } => convert_path(parent).index(*index),
        P::Map { parent, key } => convert_path(parent).key(key.clone()),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            convert_path(parent)
        }
    }
}

/// The fields of the top level of a campaign file, for [`unknown_field_hint`].
const TOP_LEVEL_FIELDS: &[&str] = &[
    "campaign",
    "title",
    "status",
    "timezone",
    "period",
    "quiet_hours",
    "skip_dates",
    "windows",
    "audiences",
    "channels",
    "messages",
    "steps",
];

/// The fields of every section below the top level, all in one list: a suggestion only
/// needs to be close to what the author meant, not valid where it is.
const NESTED_FIELDS: &[&str] = &[
    "id",
    "audience",
    "where",
    "channel",
    "fallback",
    "template",
    "to",
    "send",
    "at",
    "cron",
    "within",
    "max",
    "source",
    "key",
    "join",
    "columns",
    "type",
    "url",
    "from",
    "access_token",
    "refresh_token",
    "app_id",
    "app_secret",
    "endpoint",
    "method",
    "body",
    "headers",
    "secret",
    "rate",
    "timeout",
    "dkim",
    "domain",
    "selector",
    "algorithm",
    "start",
    "end",
];

/// Suggests the field the author probably meant.
fn unknown_field_hint(path: &FieldPath) -> String {
    let Some(Seg::Key(name)) = path.0.last() else {
        return "remove it".into();
    };
    let known = match path.0.iter().filter(|s| matches!(s, Seg::Key(_))).count() {
        1 => TOP_LEVEL_FIELDS,
        _ => NESTED_FIELDS,
    };
    let hint = super::check::suggest(name, known.iter().copied());
    if hint.starts_with("did you mean") {
        hint
    } else {
        format!("remove `{name}`; allowed here: see docs/campaign-file.md")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn parse(text: &str, env: &[(&str, &str)], policy: EnvPolicy) -> (Option<Parsed>, Diagnostics) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut diags = Diagnostics::default();
        let parsed = parse_file(f.path(), policy, &lookup, &mut diags);
        (parsed, diags)
    }

    #[test]
    fn variables_are_substituted_inside_strings() {
        let text = "campaign: x\nchannels:\n  email: { type: smtp, url: \"${URL}\", from: \"${FROM:-a@b.vn}\" }\n";
        let (parsed, diags) = parse(text, &[("URL", "smtp://h:25")], EnvPolicy::Required);
        assert!(diags.0.is_empty(), "{diags}");
        let spec = parsed.unwrap().spec;
        assert_eq!(spec.channels["email"].url.as_deref(), Some("smtp://h:25"));
        assert_eq!(spec.channels["email"].from.as_deref(), Some("a@b.vn"));
    }

    #[test]
    fn every_missing_variable_is_reported_with_its_line() {
        let text = "campaign: x\nchannels:\n  a: { type: smtp, url: \"${ONE}\" }\n  b: { type: smtp, url: \"${TWO}\" }\n";
        let (_, diags) = parse(text, &[], EnvPolicy::Required);
        let lines: Vec<_> = diags.0.iter().map(|d| (d.line, d.is_error())).collect();
        assert_eq!(lines, vec![(Some(3), true), (Some(4), true)]);
        assert!(diags.0[0].message.contains("ONE"));
    }

    #[test]
    fn missing_variables_are_only_warnings_for_the_outbox() {
        let (_, diags) = parse("campaign: \"${NOPE}\"\n", &[], EnvPolicy::Optional);
        assert_eq!(diags.error_count(), 0);
        assert_eq!(diags.warning_count(), 1);
    }

    #[test]
    fn unknown_fields_are_all_reported_with_a_suggestion() {
        let text =
            "campaign: x\ntitel: y\nsteps:\n  - id: a\n    sned: { at: \"2026-09-01 08:00\" }\n";
        let (_, diags) = parse(text, &[], EnvPolicy::Required);
        let got: Vec<_> = diags
            .0
            .iter()
            .map(|d| (d.line, d.field.clone(), d.hint.clone()))
            .collect();
        assert_eq!(
            got[0],
            (
                Some(2),
                Some("titel".into()),
                Some("did you mean `title`?".into())
            )
        );
        assert_eq!(
            got[1],
            (
                Some(5),
                Some("steps[0].sned".into()),
                Some("did you mean `send`?".into())
            )
        );
    }

    #[test]
    fn a_duplicate_key_is_a_yaml_error_with_its_line() {
        let (parsed, diags) = parse("campaign: x\ncampaign: y\n", &[], EnvPolicy::Required);
        assert!(parsed.is_none());
        assert_eq!(diags.0[0].line, Some(2), "{diags}");
    }

    #[test]
    fn an_oversized_file_is_rejected_before_parsing() {
        let big = format!("title: \"{}\"\n", "a".repeat(MAX_FILE_BYTES as usize));
        let (parsed, diags) = parse(&big, &[], EnvPolicy::Required);
        assert!(parsed.is_none());
        assert!(diags.0[0].message.contains("1 MiB"));
    }
}
