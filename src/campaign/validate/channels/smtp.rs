//! An smtp channel's sender, headers and URL, checked by the code that will send with them:
//! [`crate::mail`] parses them for the channel as well.

use crate::campaign::check::Checker;
use crate::campaign::locate::FieldPath;
use crate::campaign::spec::ChannelSpec;
use crate::mail::{Sender, SmtpUrl, parse_mailbox};

/// `from`, `headers` and `url` of an smtp channel, through the checks the channel itself
/// makes when the daemon builds it, so that `loa run` does not stop on them after it has
/// opened its HTTP port. A URL left empty by a missing variable is reported as that.
pub(super) fn settings(spec: &ChannelSpec, path: &FieldPath, c: &mut Checker<'_>) {
    if let Some(from) = spec.from.as_deref() {
        match parse_mailbox(from) {
            Err(e) => c.error(
                &path.key("from"),
                format!("{e:#}"),
                "write `from: \"Name <address@domain>\"` on one line",
            ),
            Ok(_) => {
                let headers = spec.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                if let Err(e) = Sender::new(from, headers) {
                    c.error(
                        &path.key("headers"),
                        format!("{e:#}"),
                        "give extra headers such as Reply-To; loa sets From, To, Subject and the rest itself",
                    );
                }
            }
        }
    }
    if let Some(url) = spec.url.as_deref().filter(|u| !u.trim().is_empty())
        && let Err(e) = SmtpUrl::check(url)
    {
        c.error(
            &path.key("url"),
            e,
            "smtp://host:port or smtps://host:port, options tls=required|starttls|opportunistic|none, helo=NAME; connections are the channel's `concurrency:`",
        );
    }
}
