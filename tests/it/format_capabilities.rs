//! A format that lacks a capability a command needs says so: the error names the format and
//! what it lacks, and the hint names the command and the formats that have it (issue #17:
//! commands ask the format registry for each capability instead of matching on formats).
//! Scrubbed snapshots in `tests/it/snapshots/it__format_capabilities__*.snap`.

use crate::lading_snapshot;
use crate::support::{self, snapshot::Filters};

#[test]
fn pack_names_the_format_that_cannot_be_packed_and_those_that_can() {
    let dir = tempfile::tempdir().unwrap();
    let filters = Filters::new().path(dir.path(), "[TEMP]");
    lading_snapshot!(
        "pack_swift",
        filters,
        support::clean_command(support::lading_bin(), dir.path())
            .env("SOURCE_DATE_EPOCH", "0")
            .args(["pack", "--format", "swift", "--base"])
            .arg(dir.path())
            .arg("--out")
            .arg(dir.path().join("out"))
    );
    // Nothing is left behind.
    assert!(!dir.path().join("out").exists());
}

#[test]
fn publish_names_the_format_that_cannot_be_published_and_those_that_can() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("demo-1.0.0.zip");
    fs_err::write(&archive, b"not read").unwrap();
    let filters = Filters::new().path(dir.path(), "[TEMP]");
    lading_snapshot!(
        "publish_swift",
        filters,
        support::clean_command(support::lading_bin(), dir.path())
            .args([
                "publish",
                "--format",
                "swift",
                "--registry-url",
                "http://127.0.0.1:9/"
            ])
            .arg(&archive)
    );
}

#[test]
fn an_unknown_pack_format_lists_every_name_pack_takes() {
    let dir = tempfile::tempdir().unwrap();
    lading_snapshot!(
        "pack_unknown",
        Filters::new(),
        support::clean_command(support::lading_bin(), dir.path()).args(["pack", "--format", "rpm"])
    );
}
