//! `lading restore --install --venv DIR` for pip lockfiles (issue #19, Python part): the
//! environment it writes is the one `pip install --require-hashes` writes from the same
//! requirements (real pip, real PyPI): same files, bytes and modes, the same `RECORD` rows
//! (but `INSTALLER`, which names lading), `pip check` passes, `pip list` agrees, console
//! scripts and `.data/scripts` run, modules import; a rerun changes nothing, another pinned
//! version replaces the installed one, and an sdist is refused with a hint.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::require_tool;
use crate::support;

/// The index the test installs from: the real PyPI, as this machine reaches it.
const PYPI: &str = "https://pypi.org/simple/";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/install-py/requirements.txt")
}

fn lading(home: &Path) -> Command {
    let mut command = support::clean_command(support::lading_bin(), home);
    command
        .current_dir(home)
        .env("LADING_CACHE_DIR", home.join("lading-cache"));
    command
}

/// pip run by `python` against the environment at `venv` (`pip --python`), with a cache
/// kept between test runs under the target directory.
fn pip(python: &Path, home: &Path, venv: &Path) -> Command {
    let mut command = support::clean_command(python, home);
    command
        .env(
            "PIP_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-py-pip-cache"),
        )
        .args(["-m", "pip", "--disable-pip-version-check", "--no-input"])
        .arg("--python")
        .arg(venv.join("bin/python"));
    command
}

/// Whether PyPI answers; `false` skips the test unless `LADING_TEST_REQUIRE_TOOLS=1`.
fn pypi_answers(python: &Path, home: &Path) -> bool {
    let mut command = support::clean_command(python, home);
    command.args([
        "-c",
        "import sys, urllib.request as u; u.urlopen(sys.argv[1] + 'six/', timeout=20)",
        PYPI,
    ]);
    let answers = support::run(&mut command).status.success();
    if !answers {
        let message = format!("{PYPI} does not answer from here");
        assert!(
            std::env::var_os("LADING_TEST_REQUIRE_TOOLS").is_none_or(|value| value != "1"),
            "{message}"
        );
        #[expect(
            clippy::print_stderr,
            reason = "the skip reason belongs in the test output"
        )]
        {
            eprintln!("SKIPPED: {message}");
        }
    }
    answers
}

/// What is in a tree: relative path → (mode, bytes or `-> target` for a symlink).
type Tree = BTreeMap<String, (u32, Vec<u8>)>;

fn tree(root: &Path) -> Tree {
    use std::os::unix::fs::PermissionsExt as _;
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        for entry in fs_err::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let metadata = fs_err::symlink_metadata(&path).unwrap();
            let mode = metadata.permissions().mode() & 0o7777;
            if metadata.file_type().is_symlink() {
                let target = fs_err::read_link(&path).unwrap();
                out.insert(
                    relative,
                    (0, format!("-> {}", target.display()).into_bytes()),
                );
            } else if metadata.is_dir() {
                out.insert(format!("{relative}/"), (mode, Vec::new()));
                walk(root, &path, out);
            } else {
                out.insert(relative, (mode, fs_err::read(&path).unwrap()));
            }
        }
    }
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

fn pip_list(python: &Path, home: &Path, venv: &Path) -> serde_json::Value {
    let mut command = pip(python, home, venv);
    command.args(["list", "--format=json"]);
    serde_json::from_slice(&support::run_ok(&mut command).stdout).unwrap()
}

/// The `python -m venv --without-pip` both sides start from (lading makes its own the same
/// way when `--venv` does not exist).
fn make_venv(python: &Path, home: &Path, venv: &Path) {
    let mut command = support::clean_command(python, home);
    command.args(["-m", "venv", "--without-pip"]).arg(venv);
    support::run_ok(&mut command);
}

// See: issue #19 (Python: install, not only restore).
#[test]
fn install_writes_the_environment_pip_install_require_hashes_writes() {
    let python = require_tool!(support::python());
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    if !pypi_answers(&python, home) {
        return;
    }
    let project = home.join("project");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::copy(fixture(), project.join("requirements.txt")).unwrap();
    // One path for both sides, one after the other, so the launchers' shebangs and the
    // `#!python` rewrite name the same interpreter and compare byte for byte.
    let venv = home.join("venv");

    // pip's environment: pip's default byte-compilation on, so `--compile` is compared.
    make_venv(&python, home, &venv);
    let mut command = pip(&python, home, &venv);
    command.current_dir(&project).args([
        "install",
        "--require-hashes",
        "-r",
        "requirements.txt",
        "-i",
        PYPI,
    ]);
    support::run_ok(&mut command);
    let pip_tree = tree(&venv);
    let pip_listed = pip_list(&python, home, &venv);
    fs_err::remove_dir_all(&venv).unwrap();

    // lading's, into a directory that does not exist yet.
    let mut command = lading(home);
    command
        .current_dir(&project)
        .args([
            "restore",
            "--install",
            "--compile",
            "--json",
            "--registry-url",
            PYPI,
        ])
        .args(["--lockfile", "requirements.txt", "--venv"])
        .arg(&venv)
        .arg("--python")
        .arg(&python);
    let output = support::run_ok(&mut command);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["packages"], 8, "{report:#}");
    let lading_tree = tree(&venv);

    assert_eq!(
        lading_tree.keys().collect::<Vec<_>>(),
        pip_tree.keys().collect::<Vec<_>>(),
        "lading installed other paths than pip"
    );
    let mut compared = 0;
    for (path, (mode, bytes)) in &pip_tree {
        let (lading_mode, lading_bytes) = &lading_tree[path];
        assert_eq!(lading_mode, mode, "mode of `{path}`");
        if path.ends_with("/INSTALLER") {
            // Expected: the installer's name.
            assert_eq!(bytes, b"pip\n", "{path}");
            assert_eq!(lading_bytes, b"lading\n", "{path}");
        } else if path.ends_with("/RECORD") {
            // A set of rows; the INSTALLER row hashes `lading\n`, and pip's `.pyc` rows
            // have no hash, so their bytes need not match.
            let rows = |bytes: &[u8]| -> BTreeSet<String> {
                String::from_utf8_lossy(bytes)
                    .split("\r\n")
                    .filter(|row| !row.is_empty())
                    .map(|row| {
                        if row.contains(".dist-info/INSTALLER,") {
                            row.split(',').next().unwrap().to_owned()
                        } else {
                            row.to_owned()
                        }
                    })
                    .collect()
            };
            assert_eq!(rows(lading_bytes), rows(bytes), "RECORD `{path}`");
            assert!(
                String::from_utf8_lossy(lading_bytes).contains(
                    ".dist-info/INSTALLER,sha256=YJOu5UEKGC2aGCR8xOsg3ZkJ_D4AVCwYp_zT0Vxy88k,7\r\n"
                ),
                "{path}"
            );
        } else if Path::new(path)
            .extension()
            .is_some_and(|extension| extension == "pyc")
        {
            // Expected: a byte-compiled file holds its source's mtime, which differs.
            assert_eq!(lading_bytes.len(), bytes.len(), "size of `{path}`");
        } else {
            assert!(lading_bytes == bytes, "bytes of `{path}` differ");
            compared += 1;
        }
    }
    assert!(compared > 300, "{compared} files compared");
    assert!(
        pip_tree
            .keys()
            .any(|path| path.contains("/__pycache__/") && path.ends_with(".cpython-311.pyc")),
        "pip byte-compiled nothing?"
    );

    // `pip check` and `pip list` agree; scripts run; modules import.
    let mut command = pip(&python, home, &venv);
    command.arg("check");
    support::run_ok(&mut command);
    assert_eq!(pip_list(&python, home, &venv), pip_listed);
    let run = |program: &str, args: &[&str]| -> String {
        let mut command = support::clean_command(venv.join("bin").join(program), home);
        command.args(args);
        let output = support::run_ok(&mut command);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(run("normalizer", &["--version"]).contains("3.5.3"));
    assert!(run("rst2html.py", &["--version"]).contains("0.20.1"));
    assert!(run("docutils", &["--version"]).contains("0.20.1"));
    assert_eq!(
        run(
            "python",
            &["-c", "import yaml, markupsafe, msgpack, six, idna, docutils; print(yaml.__version__, markupsafe.escape('<'))"]
        )
        .trim(),
        "6.0.4 &lt;"
    );

    // A rerun keeps what is there.
    let mut command = lading(home);
    command
        .current_dir(&project)
        .args(["restore", "--install", "--registry-url", PYPI])
        .args(["--lockfile", "requirements.txt", "--venv"])
        .arg(&venv);
    support::run_ok(&mut command);
    assert!(
        tree(&venv) == lading_tree,
        "a rerun changed the environment"
    );

    // Another pinned version replaces the installed one, as pip would.
    fs_err::write(
        project.join("requirements.txt"),
        "six==1.16.0 --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n",
    )
    .unwrap();
    let mut command = lading(home);
    command
        .current_dir(&project)
        .args(["restore", "--install", "--registry-url", PYPI])
        .args(["--lockfile", "requirements.txt", "--venv"])
        .arg(&venv);
    support::run_ok(&mut command);
    let site = venv.join("lib/python3.11/site-packages");
    assert!(site.join("six-1.16.0.dist-info/RECORD").is_file());
    assert!(!site.join("six-1.17.0.dist-info").exists());
    assert!(!site.join("__pycache__/six.cpython-311.pyc").exists());
    let mut command = pip(&python, home, &venv);
    command.arg("check");
    support::run_ok(&mut command);
    let listed = pip_list(&python, home, &venv);
    let six: Vec<&serde_json::Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["name"] == "six")
        .collect();
    assert_eq!(six.len(), 1, "{listed}");
    assert_eq!(six[0]["version"], "1.16.0");
}

#[test]
fn install_refuses_a_source_distribution_with_a_hint() {
    let python = require_tool!(support::python());
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    if !pypi_answers(&python, home) {
        return;
    }
    fs_err::write(
        home.join("requirements.txt"),
        "six==1.17.0 --hash=sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81\n",
    )
    .unwrap();
    let venv = home.join("venv");
    let mut command = lading(home);
    command
        .args(["restore", "--install", "--registry-url", PYPI])
        .args(["--lockfile", "requirements.txt", "--venv"])
        .arg(&venv)
        .arg("--python")
        .arg(&python);
    let output = support::run(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`six-1.17.0.tar.gz` is a source distribution")
            && stderr.contains("hint: pin a wheel"),
        "{stderr}"
    );
    assert!(
        !venv.join("lib/python3.11/site-packages/six.py").exists(),
        "nothing of six is installed"
    );
}
