//! Exact decimal rounding and Vietnamese number formatting for the `vnd` and `percent`
//! filters.
//!
//! Numbers are handled as their decimal digits rather than as binary floats, so that
//! `0.9655` becomes "96,55%" and `1234.5` đồng rounds to 1.235 đ, exactly as the figures
//! read in the CSV (binary `0.9655 * 100` is `96.54999…`). Rust prints `f64` without an
//! exponent and with the shortest digits that round-trip, which is what we parse.
//!
//! Vietnamese usage groups thousands with `.` and separates decimals with `,`.

use serde_json::Value;

/// A finite decimal number: sign, integer digits and fraction digits (each 0–9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decimal {
    negative: bool,
    int: Vec<u8>,
    frac: Vec<u8>,
}

impl Decimal {
    /// Reads a JSON number, or a string holding a plain decimal such as `"-1234.50"`.
    /// Returns `None` for anything else (other types, exponents, NaN, infinities).
    pub(super) fn from_value(value: &Value) -> Option<Decimal> {
        match value {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Decimal::parse(&i.to_string())
                } else if let Some(u) = n.as_u64() {
                    Decimal::parse(&u.to_string())
                } else {
                    let f = n.as_f64()?;
                    f.is_finite()
                        .then(|| format!("{f}"))
                        .and_then(|s| Decimal::parse(&s))
                }
            }
            Value::String(s) => Decimal::parse(s.trim()),
            _ => None,
        }
    }

    /// Parses `[+-]?digits[.digits]` (digits on at least one side of the point).
    pub(super) fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let digits = |s: &str| -> Option<Vec<u8>> {
            s.bytes()
                .map(|b| b.is_ascii_digit().then(|| b - b'0'))
                .collect()
        };
        let mut int = digits(int_part)?;
        if int.is_empty() {
            int.push(0);
        }
        Some(Decimal {
            negative,
            int,
            frac: digits(frac_part)?,
        })
    }

    /// Multiplies by 100 (a ratio becomes a percentage).
    pub(super) fn times_hundred(mut self) -> Decimal {
        for _ in 0..2 {
            let digit = if self.frac.is_empty() {
                0
            } else {
                self.frac.remove(0)
            };
            self.int.push(digit);
        }
        self
    }

    /// Rounds to `places` fraction digits, half away from zero, keeping exactly `places`
    /// digits after the point.
    pub(super) fn round(mut self, places: usize) -> Decimal {
        let round_up = self.frac.get(places).is_some_and(|d| *d >= 5);
        self.frac.resize(places, 0);
        if round_up {
            self.increment_last_digit();
        }
        self
    }

    fn increment_last_digit(&mut self) {
        for digit in self.frac.iter_mut().rev().chain(self.int.iter_mut().rev()) {
            if *digit == 9 {
                *digit = 0;
            } else {
                *digit += 1;
                return;
            }
        }
        self.int.insert(0, 1);
    }

    /// Formats with `.` between thousands and `,` before the fraction: `-1.234.567,89`.
    /// A value that rounded to zero has no minus sign.
    pub(super) fn to_vietnamese(&self) -> String {
        let first_nonzero = self.int.iter().position(|d| *d != 0);
        let int = first_nonzero.map_or(&[0][..], |i| &self.int[i..]);
        let is_zero = first_nonzero.is_none() && self.frac.iter().all(|d| *d == 0);
        let mut out = String::new();
        if self.negative && !is_zero {
            out.push('-');
        }
        for (i, digit) in int.iter().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push('.');
            }
            out.push(char::from(b'0' + digit));
        }
        if !self.frac.is_empty() {
            out.push(',');
            out.extend(self.frac.iter().map(|d| char::from(b'0' + d)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fmt(value: Value, places: usize) -> String {
        Decimal::from_value(&value)
            .map(|d| d.round(places).to_vietnamese())
            .unwrap_or_default()
    }

    #[test]
    fn thousands_are_grouped_with_dots() {
        assert_eq!(fmt(json!(1_234_567), 0), "1.234.567");
        assert_eq!(fmt(json!(100), 0), "100");
        assert_eq!(fmt(json!(1000), 0), "1.000");
        assert_eq!(fmt(json!(0), 0), "0");
    }

    #[test]
    fn halves_round_away_from_zero_on_the_decimal_digits() {
        assert_eq!(fmt(json!(1234.5), 0), "1.235");
        assert_eq!(fmt(json!(-1234.5), 0), "-1.235");
        assert_eq!(fmt(json!(999.96), 1), "1.000,0");
        assert_eq!(fmt(json!(0.125), 2), "0,13");
    }

    #[test]
    fn a_negative_value_that_rounds_to_zero_has_no_sign() {
        assert_eq!(fmt(json!(-0.4), 0), "0");
    }

    #[test]
    fn a_ratio_times_hundred_keeps_its_written_digits() {
        let d = Decimal::from_value(&json!(0.9655)).map(|d| d.times_hundred().round(2));
        assert_eq!(d.map(|d| d.to_vietnamese()).as_deref(), Some("96,55"));
    }

    #[test]
    fn only_plain_decimal_strings_are_numbers() {
        assert!(Decimal::parse("12.5").is_some());
        assert!(Decimal::parse(".5").is_some());
        assert!(Decimal::parse("-7").is_some());
        for bad in ["", "-", ".", "1e5", "1,5", "abc", "1.2.3", " 1"] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?}");
        }
        assert!(Decimal::from_value(&json!(true)).is_none());
    }
}
