//! Secrets of a channel must be `${NAME}` references to the environment, never the value.

use crate::campaign::check::Checker;
use crate::campaign::locate::FieldPath;
use crate::campaign::spec::ChannelSpec;

/// Secrets never live in the campaign file (docs/campaign-file.md#secrets). Tokens, keys and
/// credentials in URLs must be `${NAME}` references, checked on the text as written
/// (docs/reliability.md#r22).
pub(super) fn come_from_env(spec: &ChannelSpec, path: &FieldPath, c: &mut Checker<'_>) {
    let mut fields: Vec<FieldPath> = ["access_token", "refresh_token", "app_secret", "secret"]
        .iter()
        .map(|f| path.key(*f))
        .collect();
    fields.push(path.key("dkim").key("key"));
    fields.extend(
        spec.headers
            .keys()
            .filter(|h| {
                h.eq_ignore_ascii_case("authorization") || h.to_ascii_lowercase().contains("token")
            })
            .map(|h| path.key("headers").key(h.as_str())),
    );
    for p in fields {
        if let Some(raw) = c.raw(&p)
            && !raw.contains("${")
        {
            let raw_len = raw.len();
            c.error(
                &p,
                format!("a secret is written in the file ({raw_len} characters)"),
                "put it in an environment variable and write \"${NAME}\"",
            );
        }
    }
    let url = path.key("url");
    if let Some(raw) = c.raw(&url)
        && let Some((_, rest)) = raw.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && userinfo.contains(':')
        && !userinfo.contains("${")
    {
        c.error(
            &url,
            "the URL holds a password",
            "write the whole URL, or the password, as \"${NAME}\" from the environment",
        );
    }
}
