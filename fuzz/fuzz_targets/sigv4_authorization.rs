#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = lading::server::sigv4::parse_authorization(text);
        let _ = lading::server::sigv4::parse_amz_date(text);
    }
});
