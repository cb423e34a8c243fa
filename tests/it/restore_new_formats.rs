//! `lading restore` for the lockfiles issue #18 adds: yarn 4 (berry) `yarn.lock`, checked
//! with real yarn 4 installing offline (`YARN_ENABLE_NETWORK=0`) from what lading placed;
//! `poetry.lock` written by real poetry, installed offline by pip from the wheelhouse.

use std::path::{Path, PathBuf};

use crate::require_tool;
use crate::support;

const NPM_REGISTRY: &str = "https://registry.npmjs.org/";

/// The machine's CA settings (a TLS-intercepting mirror of the registry trusts one),
/// passed through the clean environment to node and to lading.
fn with_certificates(command: &mut std::process::Command) -> &mut std::process::Command {
    for name in [
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
    ] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

fn yarn_berry() -> Option<PathBuf> {
    support::find_tool(
        "LADING_TEST_YARN_BERRY",
        Some("yarn/node_modules/@yarnpkg/cli-dist/bin/yarn.js"),
        None,
    )
}

/// `node yarn.js ARGS` in `project` with `home` as HOME (yarn's global cache is under it).
fn yarn(
    yarn: &Path,
    home: &Path,
    project: &Path,
    offline: bool,
    args: &[&str],
) -> std::process::Output {
    let mut command = support::clean_command("node", home);
    with_certificates(&mut command)
        .current_dir(project)
        .arg(yarn)
        .args(args);
    if offline {
        command.env("YARN_ENABLE_NETWORK", "0");
    }
    support::run(&mut command)
}

/// A yarn 4 project with a scoped package, a dependency of a dependency and a package whose
/// tarball has an executable file (`which`'s bin), locked by yarn itself against the
/// registry with `home`'s global cache.
fn locked_project(yarn_js: &Path, home: &Path, dir: &Path) -> PathBuf {
    let project = dir.join("app");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true,"dependencies":{"is-number":"7.0.0","@sindresorhus/is":"4.6.0","which":"2.0.2"}}"#,
    )
    .unwrap();
    fs_err::write(project.join("yarn.lock"), "").unwrap();
    fs_err::write(
        project.join(".yarnrc.yml"),
        format!(
            "nodeLinker: node-modules\nenableTelemetry: false\nnpmRegistryServer: \"{}\"\n",
            NPM_REGISTRY.trim_end_matches('/')
        ),
    )
    .unwrap();
    let output = yarn(yarn_js, home, &project, false, &["install"]);
    assert!(output.status.success(), "{}", support::describe(&output));
    project
}

fn restore(home: &Path, project: &Path) -> std::process::Output {
    support::run(
        with_certificates(&mut support::clean_command(support::lading_bin(), home))
            .current_dir(project)
            .args(["restore", "--registry-url", NPM_REGISTRY]),
    )
}

fn zips(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| {
                    Path::new(name)
                        .extension()
                        .is_some_and(|extension| extension == "zip")
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

// See: issue #18 (client side: `lading restore` gains yarn berry)
#[test]
fn yarn_berry_lockfile_restores_yarns_own_cache_archives_and_yarn_installs_immutable_offline() {
    let yarn_js = require_tool!(yarn_berry());
    let dir = tempfile::tempdir().unwrap();
    let yarn_home = dir.path().join("yarn-home");
    let project = locked_project(&yarn_js, &yarn_home, dir.path());
    let yarns_cache = yarn_home.join(".yarn/berry/cache");

    // A fresh machine: lading fills yarn's global cache from the lockfile alone.
    let home = dir.path().join("ci-home");
    fs_err::create_dir_all(&home).unwrap();
    fs_err::remove_dir_all(project.join("node_modules")).unwrap();
    let output = restore(&home, &project);
    assert!(output.status.success(), "{}", support::describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("yarn-berry: 4 packages"), "{stderr}");
    let cache = home.join(".yarn/berry/cache");
    let placed = zips(&cache);
    assert_eq!(placed.len(), 4, "{placed:?}");
    // The archives are yarn's own, byte for byte (that is what the lockfile's checksum pins).
    assert_eq!(placed, zips(&yarns_cache));
    for name in &placed {
        assert_eq!(
            fs_err::read(cache.join(name)).unwrap(),
            fs_err::read(yarns_cache.join(name)).unwrap(),
            "{name}"
        );
    }

    // yarn 4 installs with the network off, into both cache layouts.
    let output = yarn(&yarn_js, &home, &project, true, &["install", "--immutable"]);
    assert!(output.status.success(), "{}", support::describe(&output));
    assert!(project.join("node_modules/which/bin/node-which").is_file());
    assert!(
        project
            .join("node_modules/@sindresorhus/is/package.json")
            .is_file()
    );
    let local = project.join(".yarnrc.yml");
    let settings = fs_err::read_to_string(&local).unwrap();
    fs_err::write(&local, format!("{settings}enableGlobalCache: false\n")).unwrap();
    fs_err::remove_dir_all(project.join("node_modules")).unwrap();
    let output = yarn(&yarn_js, &home, &project, true, &["install", "--immutable"]);
    assert!(output.status.success(), "{}", support::describe(&output));
    assert_eq!(zips(&project.join(".yarn/cache")).len(), 4);

    // A second restore makes no request: everything comes from lading's store.
    fs_err::remove_dir_all(&cache).unwrap();
    let output = restore(&home, &project);
    assert!(output.status.success(), "{}", support::describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("(0 downloaded, 0.0 MiB; 4 from the store)"),
        "{stderr}"
    );
}

// See: issue #18 (client side: the lockfile's checksum is what lading verifies)
#[test]
fn yarn_berry_archive_that_does_not_match_the_lockfile_checksum_is_not_placed() {
    let yarn_js = require_tool!(yarn_berry());
    let dir = tempfile::tempdir().unwrap();
    let project = locked_project(&yarn_js, &dir.path().join("yarn-home"), dir.path());
    // Another checksum for is-number: what the registry serves no longer matches the pin.
    let lock_path = project.join("yarn.lock");
    let lock = fs_err::read_to_string(&lock_path).unwrap();
    let pinned = lock
        .lines()
        .skip_while(|line| !line.starts_with("\"is-number@"))
        .find_map(|line| line.trim().strip_prefix("checksum: 10c0/"))
        .unwrap()
        .to_owned();
    let forged = format!("{}{}", "0".repeat(2), &pinned[2..]);
    fs_err::write(&lock_path, lock.replace(&pinned, &forged)).unwrap();

    let home = dir.path().join("ci-home");
    fs_err::create_dir_all(&home).unwrap();
    let output = restore(&home, &project);
    assert!(output.status.success(), "{}", support::describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("yarn-berry: 3 packages"), "{stderr}");
    assert!(
        stderr
            .contains("`is-number@npm:7.0.0`: the cache archive built from the registry's tarball")
            && stderr.contains("does not match the lockfile's checksum"),
        "{stderr}"
    );
    let placed = zips(&home.join(".yarn/berry/cache"));
    assert!(
        placed.iter().all(|name| !name.starts_with("is-number-")),
        "{placed:?}"
    );
    // yarn agrees there is nothing usable for it offline.
    fs_err::remove_dir_all(project.join("node_modules")).unwrap();
    let output = yarn(&yarn_js, &home, &project, true, &["install", "--immutable"]);
    assert!(!output.status.success(), "{}", support::describe(&output));
}

const PYPI: &str = "https://pypi.org/simple/";

fn poetry() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_POETRY", Some("poetry-venv/bin/poetry"), None)
}

// See: issue #18 (client side: `lading restore` gains `poetry.lock`)
#[test]
fn poetry_lock_written_by_poetry_restores_its_hashed_files_and_pip_installs_offline() {
    let poetry = require_tool!(poetry());
    let python = require_tool!(support::python());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let project = dir.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    // requests and its four dependencies, and a package for another platform.
    fs_err::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"demo\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\ndependencies = [\"requests==2.32.3\", \"colorama==0.4.6; sys_platform == 'win32'\"]\n\n[tool.poetry]\npackage-mode = false\n",
    )
    .unwrap();
    let mut command = support::clean_command(&poetry, &home);
    with_certificates(&mut command)
        .current_dir(&project)
        .args(["lock", "--no-interaction"]);
    support::run_ok(&mut command);
    let lock = fs_err::read_to_string(project.join("poetry.lock")).unwrap();
    assert!(lock.contains("name = \"colorama\""), "{lock}");

    let wheelhouse = dir.path().join("wheelhouse");
    let output = support::run_ok(
        with_certificates(&mut support::clean_command(support::lading_bin(), &home))
            .current_dir(&project)
            .args(["restore", "--json", "--registry-url", PYPI, "--python"])
            .arg(&python)
            .arg("--wheelhouse")
            .arg(&wheelhouse),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let pypi = &report["ecosystems"][0];
    assert_eq!(pypi["ecosystem"], "pypi", "{report}");
    assert_eq!(pypi["packages"], 5, "{report}");
    assert!(
        pypi["skipped"]
            .to_string()
            .contains("`colorama==0.4.6` is not for the target"),
        "{report}"
    );
    let mut names: Vec<String> = fs_err::read_dir(&wheelhouse)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let projects: Vec<&str> = names
        .iter()
        .map(|name| name.split('-').next().unwrap())
        .collect();
    assert_eq!(
        projects,
        [
            "certifi",
            "charset_normalizer",
            "idna",
            "requests",
            "urllib3"
        ],
        "{names:?}"
    );

    // pip installs requests with no index: every dependency is in the wheelhouse.
    let target = dir.path().join("site");
    support::run_ok(
        support::clean_command(&python, &home)
            .args(["-m", "pip", "install", "--no-index", "--no-cache-dir"])
            .args(["--disable-pip-version-check", "--find-links"])
            .arg(&wheelhouse)
            .arg("--target")
            .arg(&target)
            .arg("requests==2.32.3"),
    );
    let output = support::run_ok(
        support::clean_command(&python, &home)
            .env("PYTHONPATH", &target)
            .args([
                "-c",
                "import requests, urllib3, idna; print(requests.__version__)",
            ]),
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "2.32.3");
}
