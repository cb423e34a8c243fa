#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(name) = lading::ecosystem::npm::PackageName::parse(text) {
            // Round trip: what parses prints back to the same text.
            assert_eq!(name.to_string(), text);
        }
    }
});
