#![no_main]
// `NuGet.Config` editing by `lading login --tool nuget`: never panics, idempotent.
use std::path::Path;

use lading::ecosystem::nuget::config::{NuGetLogin, apply};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("NuGet.Config");
    for namespace in [None, Some("Acme.*".to_owned())] {
        let login = NuGetLogin {
            name: "local/main".to_owned(),
            url: "http://127.0.0.1:8470/d/local/nuget/main/v3/index.json".to_owned(),
            username: "aws".to_owned(),
            password: "tok".to_owned(),
            namespace,
        };
        let Ok(once) = apply(path, text, &login) else {
            continue;
        };
        let twice = apply(path, &once, &login).expect("own output parses");
        assert_eq!(once, twice, "not idempotent");
    }
});
