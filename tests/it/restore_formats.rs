//! `lading restore` for pip and Maven against real registries and real clients: wheels
//! uploaded with twine to `lading serve` and to pypiserver, restored into a wheelhouse that
//! `pip install --no-index --find-links` installs from with the server stopped; Maven
//! artifacts deployed to `lading serve`, restored into a fresh local repository that
//! `mvn -o` builds a project from.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

use crate::require_tool;
use crate::support::peers::PypiServer;
use crate::support::{self, LadingServer, ServerSpec};

fn lading(home: &Path, cwd: &Path) -> Command {
    let mut command = support::clean_command(support::lading_bin(), home);
    command
        .current_dir(cwd)
        .env("LADING_CACHE_DIR", home.join("lading-cache"));
    command
}

fn codeartifact_flags(command: &mut Command, server: &LadingServer) {
    command
        .args(["--domain", "local", "--repository", "main"])
        .args(["--domain-owner", "000000000000", "--region", "us-east-1"])
        .args(["--endpoint-url", &server.url]);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(fs_err::read(path).unwrap()))
}

/// Pure-Python wheels (`tests/peers/pypi_wheel.py`): project name, version, module, value.
const WHEELS: &[(&str, &str, &str, &str)] = &[
    ("Lading.Alpha", "1.0.0", "lading_alpha", "alpha-1"),
    ("Lading.Alpha", "1.1.0", "lading_alpha", "alpha-newer"),
    ("lading_beta", "2.0", "lading_beta", "beta-2"),
    ("lading-gamma", "0.3.1", "lading_gamma", "gamma"),
];

fn write_wheels(python: &Path, out: &Path) -> Vec<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_wheel.py");
    WHEELS
        .iter()
        .map(|(name, version, module, value)| {
            let mut command = support::clean_command(python, out);
            command
                .arg(&script)
                .arg(out)
                .args([name, version, ">=3.8", module, value]);
            let output = support::run_ok(&mut command);
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        })
        .collect()
}

/// A hash-pinned requirements file for all but the newer Alpha, spelled the ways people
/// write names (not normalized), with a continuation, a marker and a comment.
fn requirements(project: &Path, wheels: &[PathBuf]) -> PathBuf {
    fs_err::create_dir_all(project).unwrap();
    let path = project.join("requirements.txt");
    fs_err::write(
        &path,
        format!(
            "# pinned by hand\nLading_Alpha==1.0.0 \\\n    --hash=sha256:{}\nlading.beta==2.0 ; python_version >= \"3.8\" --hash=sha256:{}\nLADING-GAMMA==0.3.1 --hash=sha256:{}  # last\n",
            sha256_hex(&wheels[0]),
            sha256_hex(&wheels[2]),
            sha256_hex(&wheels[3]),
        ),
    )
    .unwrap();
    path
}

/// `pip install --no-index --find-links WHEELHOUSE -r requirements.txt` (into a target
/// directory), then import every module.
fn pip_install_offline(python: &Path, home: &Path, project: &Path, wheelhouse: &Path) {
    let target = project.join("site");
    let mut command = support::clean_command(python, home);
    command
        .current_dir(project)
        .args(["-m", "pip", "install", "--no-index", "--find-links"])
        .arg(wheelhouse)
        .args(["-r", "requirements.txt", "--target"])
        .arg(&target)
        .args([
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-input",
        ]);
    support::run_ok(&mut command);
    let mut command = support::clean_command(python, home);
    command.env("PYTHONPATH", &target).args([
        "-c",
        "import lading_alpha, lading_beta, lading_gamma; print(lading_alpha.VALUE, lading_beta.VALUE, lading_gamma.VALUE)",
    ]);
    let output = support::run_ok(&mut command);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "alpha-1 beta-2 gamma"
    );
}

fn wheelhouse_names(wheelhouse: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(wheelhouse)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const EXPECTED_WHEELS: [&str; 3] = [
    "lading_alpha-1.0.0-py3-none-any.whl",
    "lading_beta-2.0-py3-none-any.whl",
    "lading_gamma-0.3.1-py3-none-any.whl",
];

#[test]
fn pip_requirements_restore_from_lading_serve_then_pip_installs_offline() {
    let python = require_tool!(support::python());
    require_tool!(support::aws());
    require_tool!(crate::serve_pypi::twine());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::default());
    let home = dir.path().join("home");
    crate::serve_pypi::login(&server, &home, "twine", &server.credentials_file(), &[]);
    let wheels = write_wheels(&python, &dir.path().join("dist"));
    let uploaded = crate::serve_pypi::twine_upload(
        &home,
        &wheels.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    assert!(
        uploaded.status.success(),
        "{}",
        support::describe(&uploaded)
    );
    let project = dir.path().join("project");
    requirements(&project, &wheels);
    let wheelhouse = dir.path().join("wheelhouse");
    let mut command = lading(&home, &project);
    command
        .args(["restore", "--json", "--wheelhouse"])
        .arg(&wheelhouse);
    codeartifact_flags(&mut command, &server);
    let output = support::run_ok(&mut command);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["ecosystem"], "pypi", "{report}");
    assert_eq!(report["ecosystems"][0]["packages"], 3, "{report}");
    assert_eq!(wheelhouse_names(&wheelhouse), EXPECTED_WHEELS);
    drop(server);
    pip_install_offline(&python, &home, &project, &wheelhouse);
}

#[test]
fn pip_requirements_restore_from_pypiserver_then_pip_installs_offline() {
    let python = require_tool!(support::python());
    let twine = require_tool!(crate::serve_pypi::twine());
    let binary = require_tool!(PypiServer::find());
    let dir = tempfile::tempdir().unwrap();
    let mut pypiserver = PypiServer::start(&binary, &python, &dir.path().join("pypiserver"));
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let wheels = write_wheels(&python, &dir.path().join("dist"));
    let mut command = support::clean_command(&twine, &home);
    command
        .args(["upload", "--non-interactive", "--repository-url"])
        .arg(&pypiserver.upload_url)
        .args(["-u", &pypiserver.username])
        .env("TWINE_PASSWORD", &pypiserver.password)
        .args(&wheels);
    support::run_ok(&mut command);
    let project = dir.path().join("project");
    requirements(&project, &wheels);
    let wheelhouse = dir.path().join("wheelhouse");
    // pypiserver wants its htpasswd user: named in the URL, the password from a variable.
    let registry =
        pypiserver
            .simple_url
            .replacen("http://", &format!("http://{}@", pypiserver.username), 1);
    let output = support::run_ok(
        lading(&home, &project)
            .args(["restore", "--lockfile", "requirements.txt", "--wheelhouse"])
            .arg(&wheelhouse)
            .args(["--registry-url", &registry, "--token-env", "PYPI_PASSWORD"])
            .env("PYPI_PASSWORD", &pypiserver.password),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pypi: 3 packages"), "{stderr}");
    assert!(!stderr.contains(&pypiserver.password), "{stderr}");
    assert_eq!(wheelhouse_names(&wheelhouse), EXPECTED_WHEELS);
    pypiserver.stop();
    pip_install_offline(&python, &home, &project, &wheelhouse);
}
