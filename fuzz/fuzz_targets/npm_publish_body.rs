#![no_main]
// The body of `npm publish` (`PUT /{package}`) as `lading serve` parses it, and the tarball's
// `package/package.json` as `lading publish` reads it.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for name in ["a", "@scope/a"] {
        let Ok(name) = lading::ecosystem::npm::PackageName::parse(name) else {
            return;
        };
        if let Ok(body) = lading::ecosystem::npm::serve::parse_publish_body(&name, data) {
            assert!(!body.versions.is_empty());
        }
    }
    let _ = lading::ecosystem::npm::publish::tarball_manifest(data);
});
