//! Tags to track: any bytes read as an audio file give a track's tags or an error. A panic inside
//! lofty is caught at the boundary (and shows as an error naming it); the mapping from lofty's
//! tags to skipless's must not panic at all.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("/music/03_Some_Song.flac");
    match skipless::library::tags::read_tags_from_bytes(data, path) {
        Ok(tags) => assert!(!tags.title.is_empty()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
