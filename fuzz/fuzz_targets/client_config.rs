#![no_main]
// The INI/TOML/YAML/netrc editors of `lading login` (pip.conf, .pypirc, cargo config.toml
// and credentials.toml, .yarnrc.yml, .netrc): never panic, idempotent on their own output.
use std::path::Path;

use lading::ecosystem::cargo::config::{apply_config, apply_credentials};
use lading::ecosystem::edit::{EditError, apply_netrc};
use lading::ecosystem::npm::yarnrc::{self, YarnLogin};
use lading::ecosystem::pypi::client_config::{apply_pip_conf, apply_pypirc};

fn idempotent(name: &str, text: &str, edit: impl Fn(&Path, &str) -> Result<String, EditError>) {
    let path = Path::new(name);
    if let Ok(once) = edit(path, text) {
        let twice = edit(path, &once).expect("own output parses");
        assert_eq!(once, twice, "{name}: not idempotent");
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let index = "http://aws:tok@127.0.0.1:8470/d/local/pypi/main/simple/";
    idempotent("pip.conf", text, |path, text| {
        apply_pip_conf(path, text, index)
    });
    idempotent(".pypirc", text, |path, text| {
        apply_pypirc(path, text, "local-main", "http://127.0.0.1/", "aws", "tok")
    });
    idempotent("config.toml", text, |path, text| {
        apply_config(path, text, "local-main", "sparse+http://127.0.0.1/")
    });
    idempotent("credentials.toml", text, |path, text| {
        apply_credentials(path, text, "local-main", "Bearer tok")
    });
    idempotent(".netrc", text, |path, text| {
        apply_netrc(path, text, "127.0.0.1", "aws", "tok")
    });
    for scope in [None, Some("acme".to_owned())] {
        let login = YarnLogin {
            registry: "http://127.0.0.1:8470/d/local/npm/main/".to_owned(),
            scope,
            token: "tok".to_owned(),
        };
        idempotent(".yarnrc.yml", text, |path, text| {
            yarnrc::apply(path, text, &login)
        });
    }
});
