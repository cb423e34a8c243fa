//! The test support itself: a test whose peer is missing says that it skipped (and fails under
//! `LADING_TEST_REQUIRE_TOOLS=1`), and snapshot filters scrub what changes between runs.

use std::process::Command;

use crate::require_tool;
use crate::support::{self, snapshot::Filters};

/// Run by [`a_missing_peer_skips_out_loud_and_fails_when_required`] in a child process; ignored
/// in a normal run, where it would only ever skip.
#[test]
#[ignore = "a probe: run by `a_missing_peer_skips_out_loud_and_fails_when_required`"]
fn skip_probe_with_a_missing_peer() {
    require_tool!(support::find_tool(
        "LADING_TEST_NO_SUCH_TOOL",
        Some("no-such-dir/lading-no-such-tool"),
        Some("lading-no-such-tool"),
    ));
    panic!("`require_tool!` went on without its peer");
}

/// This test binary running only the probe, as nextest runs a test: alone in its process,
/// output not captured by libtest.
fn probe(require_tools: bool) -> std::process::Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            "test_support::skip_probe_with_a_missing_peer",
            "--nocapture",
        ])
        .env_remove("LADING_TEST_NO_SUCH_TOOL")
        .env_remove("NEXTEST_TEST_NAME")
        .env("LADING_PEERS_DIR", tempfile::tempdir().unwrap().path());
    if require_tools {
        command.env("LADING_TEST_REQUIRE_TOOLS", "1");
    } else {
        command.env_remove("LADING_TEST_REQUIRE_TOOLS");
    }
    support::run(&mut command)
}

#[test]
fn a_missing_peer_skips_out_loud_and_fails_when_required() {
    let output = probe(false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}", support::describe(&output));
    assert!(
        stderr.contains(
            "SKIPPED: test_support::skip_probe_with_a_missing_peer: `lading-no-such-tool` not found: set `LADING_TEST_NO_SUCH_TOOL` or run `.ci/install-peers`"
        ),
        "{}",
        support::describe(&output)
    );
    assert!(
        stderr.contains("`LADING_TEST_REQUIRE_TOOLS=1` makes this a failure"),
        "{stderr}"
    );

    let output = probe(true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", support::describe(&output));
    assert!(
        stderr.contains("`lading-no-such-tool` not found")
            && stderr.contains("`LADING_TEST_REQUIRE_TOOLS=1` requires every peer"),
        "{stderr}"
    );
    assert!(!stderr.contains("SKIPPED"), "{stderr}");
    assert!(!stderr.contains("went on without its peer"), "{stderr}");
}

/// Nextest captures a passing test's output and, by default, never shows it: the default
/// profile shows it at the end of the run, so a local run lists every `SKIPPED:` line; CI,
/// where a skip fails, keeps its log to failures.
#[test]
fn nextest_shows_the_output_of_passing_tests_locally() {
    let config = fs_err::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".config/nextest.toml"),
    )
    .unwrap();
    let config: toml_edit::DocumentMut = config.parse().unwrap();
    assert_eq!(
        config["profile"]["default"]["success-output"].as_str(),
        Some("final"),
        "{config}"
    );
}

#[test]
fn filters_scrub_temp_dirs_ports_and_the_version() {
    let home = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let text = format!(
        "lading {} wrote {}/.npmrc and {}/x for http://127.0.0.1:41234/npm/ and localhost:8080, not 127.0.0.1:x",
        env!("CARGO_PKG_VERSION"),
        home.path().display(),
        other.path().display(),
    );
    assert_eq!(
        Filters::new().path(home.path(), "[HOME]").scrub(&text),
        "lading [VERSION] wrote [HOME]/.npmrc and [TEMP]/x for http://127.0.0.1:[PORT]/npm/ and localhost:[PORT], not 127.0.0.1:x"
    );
}
