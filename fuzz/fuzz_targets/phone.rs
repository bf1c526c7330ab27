//! The phone normaliser: any text. A number it accepts is `84` and nine digits, and
//! normalising it again gives it back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loa::audience::phone::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(phone) = normalize(text) {
        assert_eq!(phone.len(), 11, "{phone}");
        assert!(phone.starts_with("84"), "{phone}");
        assert!(phone.bytes().all(|b| b.is_ascii_digit()), "{phone}");
        assert_eq!(normalize(&phone).as_deref(), Ok(phone.as_str()));
    }
});
