#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = lading::ecosystem::maven::listed_versions(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = lading::ecosystem::maven::compare_versions(text, "1.0");
        let _ = lading::ecosystem::maven::publish::parse_metadata(text);
        let _ = lading::ecosystem::maven::RepositoryPath::parse(text);
        let _ = lading::ecosystem::maven::SnapshotBuild::parse(text);
    }
});
