#![no_main]
// PyPI inputs: distribution file names, core metadata in wheels/sdists, upload metadata
// fields, and simple-index project pages (HTML and JSON) restore reads.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = lading::ecosystem::pypi::pack::core_metadata("a-1.0-py3-none-any.whl", data);
    let _ = lading::ecosystem::pypi::pack::core_metadata("a-1.0.tar.gz", data);
    if let Ok(page) = url::Url::parse("http://127.0.0.1/simple/a/") {
        let _ = lading::ecosystem::pypi::restore::parse_project_page(&page, data, false);
        let _ = lading::ecosystem::pypi::restore::parse_project_page(&page, data, true);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = lading::ecosystem::pypi::DistributionFile::parse(text);
        let _ = lading::ecosystem::pypi::publish::metadata_fields(text);
        let _ = lading::ecosystem::pypi::normalize_name(text);
    }
});
