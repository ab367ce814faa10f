//! The history importers: Spotify Extended and basic JSON, and the MSSD session CSV. The first
//! byte picks the format, the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skipless::history::{parse_bytes, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    let format = match which % 3 {
        0 => Format::Extended,
        1 => Format::Basic,
        _ => Format::Mssd,
    };
    if let Err(e) = parse_bytes(format, bytes, std::path::Path::new("history")) {
        let message = e.to_string();
        assert!(!message.is_empty());
    }
});
