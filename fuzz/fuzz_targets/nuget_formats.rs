#![no_main]
// NuGet inputs besides the nuspec: versions, the package content hash (a zip), v2 feed XML.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = lading::ecosystem::nuget::content_hash::content_hash(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(version) = lading::ecosystem::nuget::NuGetVersion::parse(text) {
            // Normalizing is stable.
            let normalized = version.normalized();
            let again = lading::ecosystem::nuget::NuGetVersion::parse(&normalized)
                .expect("a normalized version parses");
            assert_eq!(again.normalized(), normalized);
        }
        let _ = lading::ecosystem::nuget::publish::v2_entries(text);
    }
});
