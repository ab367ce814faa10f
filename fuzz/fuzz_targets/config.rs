//! The TOML config: any text gives a config or one line naming the line and key, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = skipless::config::Config::parse(text, std::path::Path::new("config.toml")) {
            let message = e.to_string();
            assert_eq!(message.lines().count(), 1, "{message}");
        }
    }
});
