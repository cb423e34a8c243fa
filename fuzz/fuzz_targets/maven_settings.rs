#![no_main]
// `settings.xml` editing by `lading login --tool maven`: never panics, idempotent.
use std::path::Path;

use lading::ecosystem::maven::settings::{MavenLogin, MavenMode, apply};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("settings.xml");
    for mode in [MavenMode::Profile, MavenMode::Mirror] {
        let login = MavenLogin {
            id: "local-main".to_owned(),
            url: "http://127.0.0.1:8470/d/local/maven/main/".to_owned(),
            username: "aws".to_owned(),
            password: "${env.TOKEN}".to_owned(),
            mode,
        };
        let Ok(once) = apply(path, text, &login) else {
            continue;
        };
        let twice = apply(path, &once, &login).expect("own output parses");
        assert_eq!(once, twice, "not idempotent");
    }
});
