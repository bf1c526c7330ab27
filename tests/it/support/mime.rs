//! Just enough MIME reading to check raw messages byte by byte, written here so that the
//! tests do not trust the library that built the message: header unfolding, RFC 2047
//! encoded words (B and Q), base64, quoted-printable and multipart bodies.

/// A parsed message or body part: unfolded headers (in order) and the raw body.
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Part {
    pub fn parse(raw: &str) -> Part {
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .expect("a blank line after the headers");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("continuation after a header");
                last.1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("name: value");
                headers.push((name.to_string(), value.trim_start().to_string()));
            }
        }
        Part {
            headers,
            body: body.to_string(),
        }
    }

    /// Every value of header `name`, raw (still encoded).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name`, raw.
    pub fn one(&self, name: &str) -> &str {
        let all = self.all(name);
        assert_eq!(
            all.len(),
            1,
            "exactly one {name} header in {:?}",
            self.headers
        );
        all[0]
    }

    /// A `Content-Type` parameter, e.g. `boundary`.
    pub fn param(&self, header: &str, param: &str) -> Option<String> {
        let value = self.all(header).first()?.to_string();
        value.split(';').skip(1).find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.eq_ignore_ascii_case(param)
                .then(|| v.trim_matches('"').to_string())
        })
    }

    /// The body after its `Content-Transfer-Encoding`, as UTF-8.
    pub fn decoded_body(&self) -> String {
        let cte = self
            .all("Content-Transfer-Encoding")
            .first()
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_else(|| "7bit".into());
        let bytes = match cte.as_str() {
            "base64" => base64(&self.body.replace("\r\n", "")),
            "quoted-printable" => quoted_printable(&self.body),
            _ => self.body.clone().into_bytes(),
        };
        String::from_utf8(bytes).expect("UTF-8 body")
    }

    /// The parts of a multipart body.
    pub fn parts(&self) -> Vec<Part> {
        let boundary = self.param("Content-Type", "boundary").expect("a boundary");
        let delimiter = format!("--{boundary}");
        let body = self.body.as_str();
        let mut parts = Vec::new();
        for chunk in body.split(delimiter.as_str()).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            let chunk = chunk.strip_prefix("\r\n").unwrap_or(chunk);
            let chunk = chunk.strip_suffix("\r\n").unwrap_or(chunk);
            parts.push(Part::parse(chunk));
        }
        parts
    }
}

/// Decodes RFC 2047 encoded words in a header value; whitespace between two encoded words
/// is dropped (RFC 2047 §6.2).
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some(start) = rest.find("=?") {
            let (before, from) = rest.split_at(start);
            if let Some((decoded, len)) = encoded_word(from) {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &from[len..];
                last_was_word = true;
                continue;
            }
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            last_was_word = false;
        } else {
            out.push_str(rest);
            break;
        }
    }
    out
}

/// One `=?charset?enc?text?=` at the start of `s`: the text and the length consumed.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let mut fields = inner.splitn(3, '?');
    let charset = fields.next()?;
    let enc = fields.next()?;
    let tail = fields.next()?;
    let end = tail.find("?=")?;
    let text = &tail[..end];
    assert!(charset.eq_ignore_ascii_case("utf-8"), "charset {charset}");
    let bytes = match enc {
        "B" | "b" => base64(text),
        "Q" | "q" => quoted_printable(&text.replace('_', " ")),
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + enc.len() + 1 + end + 2;
    Some((String::from_utf8(bytes).expect("UTF-8 word"), len))
}

pub fn base64(s: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, &c) in data.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..data.len().saturating_sub(1)]);
    }
    out
}

pub fn quoted_printable(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3; // soft line break
                continue;
            }
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).expect("=XX"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}
