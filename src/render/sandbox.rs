//! What a template may not do (docs/reliability.md#r17): read the environment, allocate without
//! bound, or produce unbounded output.
//!
//! Tera 1.20 without its `builtins` feature registers three functions: `range`, `throw`
//! and `get_env`. `get_env` reads the process environment, where our secrets live (SMTP
//! password, Zalo token — the listmonk CVE-2025-49136 shape), so it is replaced by a
//! function that always fails without reading anything. `range` builds its whole list
//! before a loop starts, so it is replaced by a copy with a length cap. No filter or test
//! of Tera reads files or the environment, and `include`, `extends` and `import` only
//! resolve templates already loaded into the instance (Tera's renderer looks them up in
//! `Tera::templates`), so nothing else needs disabling.

use std::collections::HashMap;
use std::io;

use serde_json::Value;
use tera::{Context, Error, Result, Tera};

use super::error::RenderError;

/// The longest list `range` may produce.
pub(crate) const MAX_RANGE_LEN: usize = 100_000;

/// Replaces Tera's environment-reading and unbounded builtins on `tera`.
pub(super) fn register(tera: &mut Tera) {
    tera.register_function("get_env", get_env_disabled);
    tera.register_function("range", capped_range);
}

fn get_env_disabled(_args: &HashMap<String, Value>) -> Result<Value> {
    Err(Error::msg(
        "`get_env` is disabled: templates cannot read the environment, where loa keeps \
         secrets; put the value in the campaign data or `messages` instead",
    ))
}

fn capped_range(args: &HashMap<String, Value>) -> Result<Value> {
    for name in args.keys() {
        if !["start", "end", "step_by"].contains(&name.as_str()) {
            return Err(Error::msg(format!(
                "function `range` got unknown argument `{name}`; it accepts start, end, step_by"
            )));
        }
    }
    let start = range_arg(args, "start")?.unwrap_or(0);
    let end = range_arg(args, "end")?
        .ok_or_else(|| Error::msg("function `range` needs an `end` argument"))?;
    let step = range_arg(args, "step_by")?.unwrap_or(1);
    if step == 0 {
        return Err(Error::msg("function `range`: `step_by` must be at least 1"));
    }
    if start > end {
        return Err(Error::msg(format!(
            "function `range`: `start` ({start}) is greater than `end` ({end})"
        )));
    }
    let len = (end - start).div_ceil(step);
    if len > MAX_RANGE_LEN {
        return Err(Error::msg(format!(
            "function `range` would produce {len} numbers; at most {MAX_RANGE_LEN} are allowed"
        )));
    }
    Ok(Value::Array(
        (start..end).step_by(step).map(Value::from).collect(),
    ))
}

fn range_arg(args: &HashMap<String, Value>, name: &str) -> Result<Option<usize>> {
    match args.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                Error::msg(format!(
                    "function `range`: `{name}` must be a whole number ≥ 0, got {value}"
                ))
            }),
    }
}

/// Renders `name`, failing as soon as the output would exceed `limit` bytes, so a runaway
/// loop stops early instead of filling memory, or as soon as it crosses a bound of
/// [`super::limits`].
pub(super) fn render_capped(
    tera: &Tera,
    name: &str,
    ctx: &Context,
    limit: usize,
) -> std::result::Result<String, RenderError> {
    let mut out = CappedWriter {
        buf: Vec::new(),
        limit,
        exceeded: false,
    };
    let (result, crossed) = super::limits::bounded(|| {
        let depth = super::limits::depth();
        let result = tera.render_to(name, ctx, &mut out);
        (result, super::limits::finish(depth))
    });
    if let Some(crossed) = crossed {
        return Err(RenderError::LimitExceeded {
            template: name.to_string(),
            limit: crossed,
        });
    }
    if out.exceeded {
        return Err(RenderError::OutputTooLarge {
            template: name.to_string(),
            limit,
        });
    }
    result.map_err(|e| RenderError::from_tera(name, &e))?;
    String::from_utf8(out.buf).map_err(|_| RenderError::Failed {
        template: name.to_string(),
        message: "rendered output is not valid UTF-8".to_string(),
    })
}

struct CappedWriter {
    buf: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("rendered output exceeds the cap"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn range(args: &[(&str, Value)]) -> Result<Value> {
        let args = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        capped_range(&args)
    }

    #[test]
    fn range_counts_like_teras_range() {
        assert_eq!(range(&[("end", json!(3))]).ok(), Some(json!([0, 1, 2])));
        let stepped = range(&[
            ("start", json!(1)),
            ("end", json!(8)),
            ("step_by", json!(3)),
        ]);
        assert_eq!(stepped.ok(), Some(json!([1, 4, 7])));
    }

    #[test]
    fn range_refuses_a_list_longer_than_the_cap() {
        let message = range(&[("end", json!(10_000_000_000u64))])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("at most 100000"), "{message}");
    }

    #[test]
    fn range_refuses_a_zero_step_and_a_missing_end() {
        assert!(range(&[("end", json!(3)), ("step_by", json!(0))]).is_err());
        assert!(range(&[]).is_err());
    }
}
