//! The command line itself: help text, usage errors, error rendering and exit codes, as
//! scrubbed snapshots (`tests/it/snapshots/it__cli__*.snap`; see `tests/support/snapshot.rs`).

use crate::lading_snapshot;
use crate::support::{self, snapshot::Filters};

#[test]
fn help_documents_exit_codes_and_serve() {
    let home = tempfile::tempdir().unwrap();
    let filters = Filters::new();
    // The command list names `serve`, and the exit-code table documents 3 as a transient
    // failure after retries.
    lading_snapshot!(
        "help",
        filters,
        support::clean_command(support::lading_bin(), home.path()).arg("--help")
    );
    // `serve --help` shows how to point AWS clients at the admin credentials
    // (`AWS_SHARED_CREDENTIALS_FILE=DATA/credentials`).
    lading_snapshot!(
        "serve_help",
        filters,
        support::clean_command(support::lading_bin(), home.path()).args(["serve", "--help"])
    );
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    lading_snapshot!(
        Filters::new(),
        support::clean_command(support::lading_bin(), home.path()).arg("--no-such-flag")
    );
}

#[test]
fn config_errors_name_file_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.yml");
    fs_err::write(&config, "principals:\n  - name: x\n    acces_key_id: K\n").unwrap();
    // Exit 1; `error: failed to load the server config`, then under `Caused by:` the file, line
    // and column of the unknown key: `serve.yml:3:5: principals[0]: unknown field `acces_key_id``.
    lading_snapshot!(
        Filters::new().path(dir.path(), "[TEMP]"),
        support::clean_command(support::lading_bin(), dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
    );
}
