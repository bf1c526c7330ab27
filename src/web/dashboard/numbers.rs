//! Numbers as each language writes them: `2.400` and `97,63 %` in Vietnamese, `2,400`
//! and `97.63%` in English; and the Tera filters `num` and `pct` that the templates use
//! (`{{ n | num(lang=lang) }}`), so that counts stay numbers until they are shown.

use std::collections::HashMap;

use tera::{Error, Value};

use super::i18n::Lang;

impl Lang {
    /// `n` with its thousands grouped.
    pub(crate) fn number(self, n: u64) -> String {
        group(&n.to_string(), self.thousands())
    }

    /// `value` (already ×100) with two decimals and the percent sign.
    pub(crate) fn percent(self, value: f64) -> String {
        let fixed = format!("{:.2}", value.max(0.0));
        let (whole, decimals) = fixed.split_once('.').unwrap_or((&fixed, "00"));
        let whole = group(whole, self.thousands());
        match self {
            Lang::Vi => format!("{whole},{decimals} %"),
            Lang::En => format!("{whole}.{decimals}%"),
        }
    }

    fn thousands(self) -> char {
        match self {
            Lang::Vi => '.',
            Lang::En => ',',
        }
    }
}

fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(ch);
    }
    out
}

/// Adds `num` and `pct` to the dashboard's Tera.
pub(super) fn register(tera: &mut tera::Tera) {
    tera.register_filter("num", num);
    tera.register_filter("pct", pct);
}

fn lang_arg(args: &HashMap<String, Value>) -> Lang {
    match args.get("lang").and_then(Value::as_str) {
        Some("en") => Lang::En,
        _ => Lang::Vi,
    }
}

fn num(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let n = value
        .as_u64()
        .ok_or_else(|| Error::msg(format!("filter `num`: {value} is not a count")))?;
    Ok(Value::String(lang_arg(args).number(n)))
}

fn pct(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let x = value
        .as_f64()
        .ok_or_else(|| Error::msg(format!("filter `pct`: {value} is not a number")))?;
    Ok(Value::String(lang_arg(args).percent(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_groups_with_dots_and_writes_a_decimal_comma_before_a_spaced_percent() {
        assert_eq!(Lang::Vi.number(2400), "2.400");
        assert_eq!(Lang::Vi.number(1_919_166), "1.919.166");
        assert_eq!(Lang::Vi.number(999), "999");
        assert_eq!(Lang::En.number(2400), "2,400");
        assert_eq!(Lang::Vi.percent(97.634), "97,63 %");
        assert_eq!(Lang::Vi.percent(100.0), "100,00 %");
        assert_eq!(Lang::En.percent(97.634), "97.63%");
        assert_eq!(Lang::Vi.percent(1234.5), "1.234,50 %");
    }

    #[test]
    fn the_filters_read_the_page_language() {
        let mut tera = tera::Tera::default();
        register(&mut tera);
        let mut ctx = tera::Context::new();
        ctx.insert("n", &2400u64);
        ctx.insert("x", &97.634f64);
        let out = tera
            .render_str(
                "{{ n | num(lang='vi') }} {{ x | pct(lang='vi') }} {{ n | num(lang='en') }}",
                &ctx,
            )
            .unwrap();
        assert_eq!(out, "2.400 97,63 % 2,400");
    }
}
