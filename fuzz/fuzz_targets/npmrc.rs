#![no_main]
// `.npmrc` editing by `lading login`: never panics, idempotent, and the token reads back.
use std::path::Path;

use lading::ecosystem::edit::{IniDialect, ini_get};
use lading::ecosystem::npm::npmrc::{apply, nerf_dart};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new(".npmrc");
    let Ok(registry) = url::Url::parse("http://127.0.0.1:8470/d/local/npm/main/") else {
        return;
    };
    for scope in [None, Some("@acme")] {
        let Ok(once) = apply(path, text, &registry, scope, "tok") else {
            continue;
        };
        let twice = apply(path, &once, &registry, scope, "tok").expect("own output parses");
        assert_eq!(once, twice, "not idempotent");
        let key = format!("{}:_authToken", nerf_dart(&registry));
        let token = ini_get(path, &once, IniDialect::Npmrc, None, &key).expect("own output parses");
        assert_eq!(token.as_deref(), Some("tok"));
    }
});
