//! How many SMS segments a text needs: what a gateway bills and what `loa plan` shows.
//!
//! An SMS carries 140 octets: 160 characters of the GSM-7 alphabet (3GPP TS 23.038), or 70
//! UTF-16 code units (UCS-2) as soon as one character is outside it, as every Vietnamese
//! letter with a diacritic is. A longer text is split into parts that each give up a
//! 6-octet header (3GPP TS 23.040, concatenated SMS): 153 GSM-7 characters or 67 code units a
//! part. The characters of the GSM-7 extension table (`{ } [ ] ~ \ | ^ €`, form feed) take
//! two septets, and neither an escaped character nor a surrogate pair is split across parts.

/// The alphabet a text is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }

    /// Units (septets or UTF-16 code units) in one message, and in one part of a split one.
    fn capacity(self) -> (usize, usize) {
        match self {
            Encoding::Gsm7 => (160, 153),
            Encoding::Ucs2 => (70, 67),
        }
    }
}

/// A text's size as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Characters as a reader counts them (Unicode scalar values).
    pub chars: usize,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Messages the gateway sends and bills; an empty text is still one.
    pub count: usize,
}

/// The GSM-7 basic character set (3GPP TS 23.038 §6.2.1), one septet each; the escape
/// code 0x1B is not a character of its own.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The GSM-7 extension table (§6.2.1.1): an escape and the character, two septets.
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets `c` takes in GSM-7, or None when it has no GSM-7 form.
fn septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The segments `text` needs, in GSM-7 when every character has a GSM-7 form, else UCS-2.
pub fn segments(text: &str) -> Segments {
    let gsm: Option<Vec<usize>> = text.chars().map(septets).collect();
    let (encoding, costs) = match gsm {
        Some(costs) => (Encoding::Gsm7, costs),
        None => (Encoding::Ucs2, text.chars().map(char::len_utf16).collect()),
    };
    let units = costs.iter().sum();
    let (single, part) = encoding.capacity();
    let count = if units <= single {
        1
    } else {
        // Greedy packing: a character that does not fit whole opens the next part.
        let (mut parts, mut used) = (1, 0);
        for cost in costs {
            if used + cost > part {
                parts += 1;
                used = 0;
            }
            used += cost;
        }
        parts
    };
    Segments {
        encoding,
        chars: text.chars().count(),
        units,
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::{Encoding, segments};

    #[test]
    fn plain_ascii_fits_160_characters_in_one_gsm7_message() {
        let s = segments(&"a".repeat(160));
        assert_eq!((s.encoding, s.units, s.count), (Encoding::Gsm7, 160, 1));
        assert_eq!(segments(&"a".repeat(161)).count, 2);
        assert_eq!(segments(&"a".repeat(306)).count, 2, "2 × 153");
        assert_eq!(segments(&"a".repeat(307)).count, 3);
        assert_eq!(segments("").count, 1, "an empty text is still one message");
    }

    #[test]
    fn vietnamese_with_diacritics_is_ucs2_at_70_then_67_a_part() {
        let s = segments(&"ư".repeat(70));
        assert_eq!((s.encoding, s.count), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"ư".repeat(71)).count, 2);
        assert_eq!(segments(&"ư".repeat(134)).count, 2, "2 × 67");
        assert_eq!(segments(&"ư".repeat(135)).count, 3);
        // One diacritic turns a text that would fit one GSM-7 message into UCS-2.
        let text = format!("{}ế", "a".repeat(99));
        let s = segments(&text);
        assert_eq!((s.encoding, s.chars, s.count), (Encoding::Ucs2, 100, 2));
    }

    #[test]
    fn a_229_character_vietnamese_text_needs_4_segments() {
        let text = "Kính gửi phụ huynh: con em chưa có thẻ bảo hiểm y tế học sinh năm học \
                    2026-2027. Hạn nộp là ngày 31/12/2026, xin liên hệ giáo viên chủ nhiệm \
                    hoặc nhà trường để được hướng dẫn tham gia đầy đủ, liên tục. Trân trọng cảm ơn quý vị ạ!";
        assert_eq!(text.chars().count(), 229);
        let s = segments(text);
        assert_eq!((s.encoding, s.units, s.count), (Encoding::Ucs2, 229, 4));
    }

    #[test]
    fn the_extension_table_counts_two_septets_and_the_basic_set_one() {
        let s = segments("{€}");
        assert_eq!((s.encoding, s.chars, s.units), (Encoding::Gsm7, 3, 6));
        let s = segments("@£$¥èéùìòÇ\nØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà");
        assert_eq!(s.encoding, Encoding::Gsm7);
        assert_eq!(s.units, s.chars);
        assert_eq!(segments(&"€".repeat(80)).count, 1, "160 septets");
        assert_eq!(segments(&"€".repeat(81)).count, 2);
        // 152 septets then an escaped pair: the pair does not straddle the parts.
        let s = segments(&format!("{}€{}", "a".repeat(152), "a".repeat(10)));
        assert_eq!((s.units, s.count), (164, 2));
        let s = segments(&format!("{}€{}", "a".repeat(152), "a".repeat(152)));
        assert_eq!(
            (s.units, s.count),
            (306, 3),
            "153 + 2 + 152 do not fit two parts"
        );
    }

    #[test]
    fn a_character_outside_the_bmp_counts_two_ucs2_units() {
        let s = segments("😀");
        assert_eq!((s.encoding, s.chars, s.units), (Encoding::Ucs2, 1, 2));
        assert_eq!(segments(&"😀".repeat(35)).count, 1);
        assert_eq!(segments(&"😀".repeat(36)).count, 2);
    }
}
