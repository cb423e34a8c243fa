#![no_main]
// The other lockfiles and restore inputs: pip hashed requirements (with their environment
// markers and requires-python specifiers), NuGet packages.lock.json,
// Maven coordinate lists, gradle.lockfile, maven-lockfile JSON, and the POMs restore reads.
use std::path::Path;

use lading::ecosystem::maven::restore::{self as maven, Format};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ =
        lading::ecosystem::pypi::restore::parse_requirements(Path::new("requirements.txt"), text);
    let environment = lading::ecosystem::pypi::markers::Environment::from([(
        "python_full_version".to_owned(),
        "3.11.7".to_owned(),
    )]);
    let _ = lading::ecosystem::pypi::markers::evaluate(text, &environment);
    let _ = lading::ecosystem::pypi::tags::requires_python_admits(text, "3.11.7");
    let _ = lading::ecosystem::nuget::restore::parse(Path::new("packages.lock.json"), text);
    for format in [Format::Coordinates, Format::Gradle, Format::MavenLockfile] {
        let _ = maven::parse(format, Path::new("input"), text);
    }
    let _ = maven::referenced_poms(text);
    let _ = maven::main_extension(text);
    let _ = lading::ecosystem::maven::pack::pom_coordinates(text);
});
