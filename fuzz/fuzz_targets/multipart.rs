#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let body = bytes::Bytes::copy_from_slice(data);
    let _ = lading::server::multipart::parse(&body, "boundary");
});
