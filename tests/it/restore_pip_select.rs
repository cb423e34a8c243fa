//! `lading restore` for pip fetches per requirement the one file pip would install on the
//! target interpreter (issue #16, part 5): its compatible tags are pip's own list, in pip's
//! order, for this interpreter and for a `--python-version`/`--platform` target; and for a
//! universal hash-pinned requirements file of 32 real packages with native wheels (every
//! platform's hashes, markers choosing between two numpy versions) restored from the real
//! PyPI, it places exactly the files `pip download --require-hashes` picks, which `pip
//! install --no-index --find-links` installs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::require_tool;
use crate::support;

/// The index the test restores from: the real PyPI, as this machine reaches it.
const PYPI: &str = "https://pypi.org/simple/";

fn lading(home: &Path) -> Command {
    let mut command = support::clean_command(support::lading_bin(), home);
    command
        .current_dir(home)
        .env("LADING_CACHE_DIR", home.join("lading-cache"));
    command
}

/// The tags `pip debug --verbose` lists after `Compatible tags: N`, best first.
fn pip_tags(python: &Path, home: &Path, target: &[&str]) -> Vec<String> {
    let mut command = support::clean_command(python, home);
    command
        .args([
            "-m",
            "pip",
            "debug",
            "--verbose",
            "--disable-pip-version-check",
        ])
        .args(target);
    let output = support::run_ok(&mut command);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines = text
        .lines()
        .skip_while(|line| !line.starts_with("Compatible tags:"));
    let header = lines.next().expect("pip debug prints `Compatible tags:`");
    let count: usize = header["Compatible tags:".len()..]
        .split_whitespace()
        .next()
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{header}"));
    let tags: Vec<String> = lines
        .take_while(|line| line.starts_with("  "))
        .map(|line| line.trim().to_owned())
        .collect();
    assert_eq!(tags.len(), count, "{text}");
    tags
}

fn lading_tags(python: &Path, home: &Path, target: &[&str]) -> Vec<String> {
    let mut command = lading(home);
    command
        .args(["restore", "--print-python-tags", "--python"])
        .arg(python)
        .args(target);
    let output = support::run_ok(&mut command);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn compatible_tags_are_pips_own_list_in_pips_order() {
    let python = require_tool!(support::python());
    let home = tempfile::tempdir().unwrap();
    for target in [
        &[][..],
        &[
            "--python-version",
            "3.12",
            "--platform",
            "manylinux2014_aarch64",
        ],
        &[
            "--python-version",
            "3.13",
            "--platform",
            "macosx_11_0_arm64",
            "--platform",
            "macosx_10_9_x86_64",
        ],
        &["--platform", "win_amd64", "--abi", "cp311", "--abi", "abi3"],
        &[
            "--python-version",
            "3.7",
            "--platform",
            "manylinux2010_x86_64",
        ],
    ] {
        let expected = pip_tags(&python, home.path(), target);
        assert!(expected.len() > 30, "{target:?}: {expected:?}");
        assert_eq!(
            lading_tags(&python, home.path(), target),
            expected,
            "lading and pip disagree for {target:?}"
        );
    }
}

#[test]
fn without_python3_the_flags_alone_name_the_target_or_the_error_says_what_to_pass() {
    let python = require_tool!(support::python());
    let home = tempfile::tempdir().unwrap();
    let target = [
        "--python-version",
        "3.12",
        "--platform",
        "manylinux2014_aarch64",
    ];
    let expected = pip_tags(&python, home.path(), &target);
    let mut command = lading(home.path());
    command
        .env("PATH", home.path().join("no-python-here"))
        .args(["restore", "--print-python-tags"])
        .args(target);
    let output = support::run_ok(&mut command);
    let tags: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tags, expected);
    let mut command = lading(home.path());
    command
        .env("PATH", home.path().join("no-python-here"))
        .args(["restore", "--print-python-tags", "--python-version", "3.12"]);
    let output = support::run(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not run `python3`") && stderr.contains("hint: pass `--python PATH`"),
        "{stderr}"
    );
}

/// Whether PyPI answers (the JSON simple API too); `false` skips the test unless
/// `LADING_TEST_REQUIRE_TOOLS=1`, where it fails.
fn pypi_answers(python: &Path, home: &Path) -> bool {
    let mut command = support::clean_command(python, home);
    command.args([
        "-c",
        "import sys, urllib.request as u; r = u.urlopen(u.Request(sys.argv[1] + 'pip/', headers={'Accept': 'application/vnd.pypi.simple.v1+json'}), timeout=20); sys.exit(0 if r.headers['Content-Type'].startswith('application/vnd.pypi.simple.v1+json') else 1)",
        PYPI,
    ]);
    let answers = support::run(&mut command).status.success();
    if !answers {
        support::skip(&format!(
            "{PYPI} does not answer with PEP 691 JSON from here"
        ));
    }
    answers
}

/// File name → size of each file in `dir`.
fn files(dir: &Path) -> BTreeMap<String, u64> {
    fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.metadata().unwrap().len(),
            )
        })
        .collect()
}

/// pip's cache for the test, kept between runs under the target directory (never the
/// user's), so pip's side of the comparison reads its wheels locally after the first run.
fn pip_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("pip-select-pip-cache")
}

// See: issue #16, part 5 (restore fetched 1.57 GiB of every platform's wheels for 31
// packages, and a `py3-none-any` wheel over the `cp311` one pip installs).
#[test]
fn universal_hashed_requirements_restore_exactly_the_files_pip_download_picks() {
    let python = require_tool!(support::python());
    let home = tempfile::tempdir().unwrap();
    if !pypi_answers(&python, home.path()) {
        return;
    }
    let project = home.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pip-select/requirements.txt");
    let requirements = fs_err::read_to_string(&fixture).unwrap();
    assert!(requirements.matches("--hash=sha256:").count() > 2000);
    fs_err::write(project.join("requirements.txt"), &requirements).unwrap();

    let wheelhouse = home.path().join("wheelhouse");
    let mut command = lading(home.path());
    command
        .current_dir(&project)
        .args(["restore", "--json", "--registry-url", PYPI, "--python"])
        .arg(&python)
        .arg("--wheelhouse")
        .arg(&wheelhouse);
    let output = support::run_ok(&mut command);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["packages"], 32, "{report:#}");

    let downloads = home.path().join("pip-download");
    let mut command = support::clean_command(&python, home.path());
    command
        .current_dir(&project)
        .env("PIP_CACHE_DIR", pip_cache())
        .args(["-m", "pip", "download", "--require-hashes", "--no-deps"])
        .args(["--disable-pip-version-check", "--no-input", "-i", PYPI])
        .args(["-r", "requirements.txt", "-d"])
        .arg(&downloads);
    support::run_ok(&mut command);

    let restored = files(&wheelhouse);
    let picked = files(&downloads);
    assert_eq!(
        restored.keys().collect::<Vec<_>>(),
        picked.keys().collect::<Vec<_>>(),
        "lading placed other files than pip picked"
    );
    let restored_bytes: u64 = restored.values().sum();
    let picked_bytes: u64 = picked.values().sum();
    assert!(
        restored_bytes <= picked_bytes,
        "{restored_bytes} bytes restored, pip downloaded {picked_bytes}"
    );
    // The cp311 wheel, not a pure-Python one, where a package has both; numpy 2.4.6, as
    // the marker `python_full_version < '3.12'` chooses for this interpreter.
    assert!(
        restored
            .keys()
            .any(|name| name.starts_with("charset_normalizer-3.5.3-cp311-cp311-")),
        "{restored:?}"
    );
    assert!(
        restored
            .keys()
            .any(|name| name.starts_with("numpy-2.4.6-cp311-")),
        "{restored:?}"
    );

    // pip installs the whole set from the wheelhouse alone, and it imports.
    let site = home.path().join("site");
    let mut command = support::clean_command(&python, home.path());
    command
        .current_dir(&project)
        .args(["-m", "pip", "install", "--no-index", "--find-links"])
        .arg(&wheelhouse)
        .args(["-r", "requirements.txt", "--no-compile", "--target"])
        .arg(&site)
        .args([
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-input",
        ]);
    support::run_ok(&mut command);
    let mut command = support::clean_command(&python, home.path());
    command.env("PYTHONPATH", &site).args([
        "-c",
        "import numpy, pandas, cryptography.fernet, pydantic, yaml, aiohttp, orjson; print(numpy.__version__, pandas.__version__)",
    ]);
    let output = support::run_ok(&mut command);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "2.4.6 3.1.1"
    );
}
