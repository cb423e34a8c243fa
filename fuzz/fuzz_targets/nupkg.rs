#![no_main]
// nupkg = zip: zip-slip, zip bombs and malformed archives must give errors, never panics.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = lading::ecosystem::nuget::read_nupkg(data);
    let _ = lading::ecosystem::nuget::nuspec_bytes(data);
});
