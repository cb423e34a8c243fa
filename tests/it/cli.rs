//! The command line itself: help text, usage errors, error rendering and exit codes.

use crate::support;

#[test]
fn help_documents_exit_codes_and_serve() {
    let output = support::run_ok(std::process::Command::new(support::lading_bin()).arg("--help"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("serve"), "{text}");
    assert!(
        text.contains("3    transient failure after retries"),
        "{text}"
    );
    let output = support::run_ok(
        std::process::Command::new(support::lading_bin()).args(["serve", "--help"]),
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("AWS_SHARED_CREDENTIALS_FILE=DATA/credentials"),
        "{text}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let output =
        support::run(std::process::Command::new(support::lading_bin()).arg("--no-such-flag"));
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        support::describe(&output)
    );
}

#[test]
fn config_errors_name_file_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.yml");
    fs_err::write(&config, "principals:\n  - name: x\n    acces_key_id: K\n").unwrap();
    let output = support::run(
        support::clean_command(support::lading_bin(), dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: failed to load the server config"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Caused by:")
            && stderr.contains("serve.yml:3:5: principals[0]: unknown field `acces_key_id`"),
        "{stderr}"
    );
}
