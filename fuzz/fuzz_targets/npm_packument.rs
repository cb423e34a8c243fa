#![no_main]
// A registry's packument as npm restore reads it (client) and as `lading serve` re-serves an
// upstream's (server): any JSON must give a result or an error, never a panic.
use lading::ecosystem::npm::lockfile::LockedPackage;
use lading::ecosystem::npm::{PackageName, abbreviate_manifest};
use lading::ecosystem::npm::serve::version_manifest;
use serde_json::Value;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(packument) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(registry) = url::Url::parse("http://127.0.0.1:8470/d/local/npm/main/") else {
        return;
    };
    let bare = LockedPackage {
        name: "a".to_owned(),
        version: "1.0.0".to_owned(),
        resolved: None,
        integrity: None,
    };
    let _ = lading::ecosystem::npm::restore::packument_pins(&bare, Some(&packument), &registry);
    let Ok(name) = PackageName::parse("@scope/a") else {
        return;
    };
    for (version, manifest) in packument
        .get("versions")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let rendered = version_manifest(
            manifest,
            manifest.get("dist"),
            &name,
            version,
            "http://127.0.0.1/a.tgz",
        );
        assert_eq!(rendered["version"].as_str(), Some(version.as_str()));
        let _ = abbreviate_manifest(&rendered);
    }
});
