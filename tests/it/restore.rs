//! `lading restore` against real registries and real clients: 200+ real npm packages
//! (fetched once by `.ci/install-peers` into `.peers/npm-fixture/`) published into
//! Verdaccio and into `lading serve`, restored, then installed by `npm ci --offline` with
//! the registry stopped; a tampered tarball fails the restore and leaves no cache behind;
//! through a fault-injecting proxy (5xx, 429 + Retry-After, resets, truncated, slow and
//! corrupted bodies) a restore ends verified or fails cleanly with nothing corrupt cached.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sha2::Digest as _;

use crate::require_tool;
use crate::support::client::{nuget_lock_entry, nuget_push};
use crate::support::peers::Verdaccio;
use crate::support::{self, ServerSpec};

pub(crate) struct FixturePackage {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) file: PathBuf,
    pub(crate) manifest: serde_json::Value,
}

pub(crate) fn fixture() -> Option<Vec<FixturePackage>> {
    let index = support::find_tool(
        "LADING_TEST_NPM_FIXTURE",
        Some("npm-fixture/manifests.json"),
        None,
    )?;
    let dir = index.parent().unwrap().join("tarballs");
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&fs_err::read_to_string(&index).unwrap()).unwrap();
    Some(
        entries
            .into_iter()
            .map(|entry| FixturePackage {
                name: entry["name"].as_str().unwrap().to_owned(),
                version: entry["version"].as_str().unwrap().to_owned(),
                file: dir.join(entry["file"].as_str().unwrap()),
                manifest: entry["manifest"].clone(),
            })
            .collect(),
    )
}

/// The first `count` unscoped fixture packages without dependencies (any set of them is a
/// complete install).
fn unscoped_leaves(packages: &[FixturePackage], count: usize) -> Vec<&FixturePackage> {
    packages
        .iter()
        .filter(|package| {
            !package.name.starts_with('@')
                && package.manifest["dependencies"]
                    .as_object()
                    .is_none_or(serde_json::Map::is_empty)
        })
        .take(count)
        .collect()
}

/// Publish tarballs as `npm publish` does (PROTOCOLS.md §2.2), eight at a time.
pub(crate) fn publish(registry: &str, token: &str, packages: &[&FixturePackage]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
        let mut tasks = tokio::task::JoinSet::new();
        // Versions of one name go one after another (a registry merges them).
        let mut by_name: std::collections::BTreeMap<&str, Vec<&FixturePackage>> =
            std::collections::BTreeMap::new();
        for package in packages {
            by_name.entry(&package.name).or_default().push(package);
        }
        for (name, versions) in by_name {
            let bodies: Vec<(String, serde_json::Value)> = versions
                .iter()
                .map(|package| {
                    let data = fs_err::read(&package.file).unwrap();
                    let integrity = format!(
                        "sha512-{}",
                        base64::engine::general_purpose::STANDARD
                            .encode(sha2::Sha512::digest(&data))
                    );
                    let shasum = hex::encode(sha1::Sha1::digest(&data));
                    let attachment = format!("{name}-{}.tgz", package.version);
                    let mut manifest = package.manifest.clone();
                    manifest["_id"] = format!("{name}@{}", package.version).into();
                    manifest["dist"] = serde_json::json!({
                        "integrity": integrity,
                        "shasum": shasum,
                        "tarball": format!("{registry}{name}/-/{attachment}"),
                    });
                    let body = serde_json::json!({
                        "_id": name,
                        "name": name,
                        "dist-tags": {"latest": package.version},
                        "versions": {package.version.clone(): manifest},
                        "_attachments": {attachment: {
                            "content_type": "application/octet-stream",
                            "data": base64::engine::general_purpose::STANDARD.encode(&data),
                            "length": data.len(),
                        }},
                    });
                    (name.replace('/', "%2f"), body)
                })
                .collect();
            let client = client.clone();
            let registry = registry.to_owned();
            let token = token.to_owned();
            let semaphore = std::sync::Arc::clone(&semaphore);
            tasks.spawn(async move {
                let _permit = semaphore.acquire().await.unwrap();
                for (escaped, body) in bodies {
                    let response = client
                        .put(format!("{registry}{escaped}"))
                        .bearer_auth(&token)
                        .header("npm-command", "publish")
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    assert!(status.is_success(), "publish {escaped}: {status} {text}");
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
    });
}

pub(crate) fn npm_command(npm: &Path, home: &Path, cwd: &Path, cache: &Path) -> Command {
    let mut command = support::clean_command(npm, home);
    command
        .current_dir(cwd)
        .env("npm_config_cache", cache)
        .args(["--no-audit", "--no-fund", "--no-update-notifier"]);
    command
}

/// `dir/<folder>` with a `package.json` named `name` depending on `dependencies`.
fn project_with(dir: &Path, folder: &str, name: &str, dependencies: &serde_json::Value) -> PathBuf {
    let project = dir.join(folder);
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("package.json"),
        serde_json::json!({"name": name, "version": "1.0.0", "private": true, "dependencies": dependencies}).to_string(),
    )
    .unwrap();
    project
}

/// The fixture's roots are installed in `project`.
fn assert_fixture_installed(project: &Path) {
    assert!(project.join("node_modules/express/package.json").is_file());
    assert!(
        project
            .join("node_modules/@babel/core/package.json")
            .is_file()
    );
}

/// A project depending on `dependencies`, locked against the registry in `home/.npmrc`.
pub(crate) fn locked_project(
    npm: &Path,
    home: &Path,
    dir: &Path,
    dependencies: &serde_json::Value,
    omit_resolved: bool,
) -> PathBuf {
    let project = project_with(dir, "project", "restore-app", dependencies);
    let flag = if omit_resolved {
        "--omit-lockfile-registry-resolved"
    } else {
        "--no-omit-lockfile-registry-resolved"
    };
    support::run_ok(
        npm_command(npm, home, &project, &dir.join("lock-cache")).args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            flag,
        ]),
    );
    project
}

/// A project depending on exactly `packages`, locked as [`locked_project`] does.
fn locked_leaves(
    npm: &Path,
    home: &Path,
    dir: &Path,
    packages: &[&FixturePackage],
    omit_resolved: bool,
) -> PathBuf {
    let dependencies: serde_json::Map<String, serde_json::Value> = packages
        .iter()
        .map(|package| (package.name.clone(), package.version.clone().into()))
        .collect();
    locked_project(npm, home, dir, &dependencies.into(), omit_resolved)
}

/// Verdaccio under `dir/verdaccio` holding `packages`, with `home/.npmrc` pointing at it.
fn verdaccio_serving(
    binary: &Path,
    dir: &Path,
    home: &Path,
    packages: &[&FixturePackage],
) -> Verdaccio {
    let verdaccio = Verdaccio::start(binary, &dir.join("verdaccio"));
    publish(&verdaccio.url, &verdaccio.token, packages);
    fs_err::write(home.join(".npmrc"), verdaccio.npmrc()).unwrap();
    verdaccio
}

pub(crate) fn lading(home: &Path, cwd: &Path) -> Command {
    let mut command = support::clean_command(support::lading_bin(), home);
    command
        .current_dir(cwd)
        .env("LADING_CACHE_DIR", home.join("lading-cache"));
    command
}

pub(crate) fn fixture_dependencies() -> serde_json::Value {
    serde_json::json!({"express": "4.21.2", "eslint": "8.57.1", "@babel/core": "7.26.0"})
}

fn npm_ci_offline(npm: &Path, home: &Path, project: &Path, cache: &Path) {
    let output = support::run(npm_command(npm, home, project, cache).args([
        "ci",
        "--offline",
        "--ignore-scripts",
    ]));
    assert!(
        output.status.success(),
        "npm ci --offline failed:\n{}",
        support::describe(&output)
    );
    let hidden: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(project.join("node_modules/.package-lock.json")).unwrap(),
    )
    .unwrap();
    let installed = hidden["packages"].as_object().unwrap().len();
    assert!(installed >= 200, "only {installed} packages installed");
    assert_fixture_installed(project);
}

/// The fixture project locked by real yarn 1 against the registry in `home/.npmrc`.
fn yarn_locked_project(yarn: &Path, home: &Path, dir: &Path) -> PathBuf {
    let project = project_with(
        dir,
        "yarn-project",
        "restore-yarn-app",
        &fixture_dependencies(),
    );
    support::run_ok(
        support::clean_command(yarn, home)
            .current_dir(&project)
            .env("YARN_CACHE_FOLDER", dir.join("yarn-lock-cache"))
            // yarn 1 sends the token for scoped packages only, unless always-auth.
            .env("npm_config_always_auth", "true")
            .args([
                "install",
                "--ignore-scripts",
                "--no-progress",
                "--non-interactive",
            ]),
    );
    fs_err::remove_dir_all(project.join("node_modules")).unwrap();
    project
}

fn pnpm() -> Option<PathBuf> {
    support::find_tool(
        "LADING_TEST_PNPM",
        Some("pnpm/node_modules/pnpm/pnpm"),
        None,
    )
}

/// The fixture project locked by real pnpm 12 against the registry in `home/.npmrc`.
fn pnpm_locked_project(pnpm: &Path, home: &Path, dir: &Path) -> PathBuf {
    let project = project_with(
        dir,
        "pnpm-project",
        "restore-pnpm-app",
        &fixture_dependencies(),
    );
    support::run_ok(
        support::clean_command(pnpm, home)
            .current_dir(&project)
            .args(["install", "--lockfile-only", "--ignore-scripts"])
            .arg("--store-dir")
            .arg(dir.join("pnpm-lock-store")),
    );
    project
}

/// pnpm 10 (a node script): run as `node pnpm.cjs`.
fn pnpm10() -> Option<PathBuf> {
    support::find_tool(
        "LADING_TEST_PNPM10",
        Some("pnpm/node_modules/pnpm10/bin/pnpm.cjs"),
        None,
    )
}

/// `pnpm install --offline --frozen-lockfile` from the store lading wrote; `pnpm` is the
/// native pnpm 12, or pnpm 10's `pnpm.cjs` (run with node).
fn pnpm_install_offline(pnpm: &Path, home: &Path, project: &Path, store: &Path) {
    let mut command = if pnpm.extension().is_some_and(|extension| extension == "cjs") {
        let mut command = support::clean_command("node", home);
        command.arg(pnpm);
        command
    } else {
        support::clean_command(pnpm, home)
    };
    let output = support::run(
        command
            .current_dir(project)
            .args([
                "install",
                "--offline",
                "--frozen-lockfile",
                "--ignore-scripts",
            ])
            .arg("--store-dir")
            .arg(store),
    );
    assert!(
        output.status.success(),
        "pnpm install --offline failed:\n{}",
        support::describe(&output)
    );
    assert_fixture_installed(project);
}

/// `yarn install --offline --frozen-lockfile` with an empty yarn cache and the offline
/// mirror lading wrote.
fn yarn_install_offline(yarn: &Path, home: &Path, project: &Path, mirror: &Path, cache: &Path) {
    let output = support::run(
        support::clean_command(yarn, home)
            .current_dir(project)
            .env("YARN_CACHE_FOLDER", cache)
            .env("YARN_YARN_OFFLINE_MIRROR", mirror)
            .args([
                "install",
                "--offline",
                "--frozen-lockfile",
                "--ignore-scripts",
            ])
            .args(["--no-progress", "--non-interactive"]),
    );
    assert!(
        output.status.success(),
        "yarn install --offline failed:\n{}",
        support::describe(&output)
    );
    assert_fixture_installed(project);
}

#[test]
fn restore_from_verdaccio_then_npm_ci_pnpm_and_yarn_offline_with_200_real_packages() {
    let npm = require_tool!(support::npm());
    let yarn = require_tool!(crate::login_tools::yarn_classic());
    let pnpm = require_tool!(pnpm());
    let pnpm10 = require_tool!(pnpm10());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let packages = require_tool!(fixture());
    assert!(packages.len() >= 200, "{} fixture packages", packages.len());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let mut verdaccio = Verdaccio::start(&verdaccio_bin, &dir.path().join("verdaccio"));
    publish(
        &verdaccio.url,
        &verdaccio.token,
        &packages.iter().collect::<Vec<_>>(),
    );
    fs_err::write(home.join(".npmrc"), verdaccio.npmrc()).unwrap();
    // With `resolved` URLs in the lockfile: npm then reads content by digest.
    let project = locked_project(&npm, &home, dir.path(), &fixture_dependencies(), false);
    let cache = dir.path().join("npm-cache");
    let output = support::run_ok(
        lading(&home, &project)
            .args(["restore", "--json", "--registry-url", &verdaccio.url])
            .args(["--token-env", "VERDACCIO_TOKEN"])
            .env("VERDACCIO_TOKEN", &verdaccio.token)
            .env("npm_config_cache", &cache),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let npm_report = &report["ecosystems"][0];
    assert_eq!(npm_report["ecosystem"], "npm");
    assert!(npm_report["packages"].as_u64().unwrap() >= 200, "{report}");
    assert_eq!(npm_report["downloaded"], npm_report["packages"], "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("npm: ") && stderr.contains("packages from"),
        "{stderr}"
    );
    // The same dependencies locked by yarn 1, into its offline mirror (the default one
    // under the project; the tarballs come from lading's store now).
    let yarn_project = yarn_locked_project(&yarn, &home, dir.path());
    let output = support::run_ok(
        lading(&home, &yarn_project)
            .args(["restore", "--json", "--registry-url", &verdaccio.url])
            .args(["--token-env", "VERDACCIO_TOKEN"])
            .env("VERDACCIO_TOKEN", &verdaccio.token),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let yarn_report = &report["ecosystems"][0];
    assert_eq!(yarn_report["ecosystem"], "yarn", "{report}");
    assert!(yarn_report["packages"].as_u64().unwrap() >= 200, "{report}");
    let mirror = yarn_project.join(".lading/yarn-offline-mirror");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("YARN_YARN_OFFLINE_MIRROR=")
            && stderr.contains("yarn install --offline --frozen-lockfile"),
        "{stderr}"
    );
    assert!(mirror.join("@babel-core-7.26.0.tgz").is_file());
    // And locked by pnpm 12, into a pnpm store.
    let pnpm_project = pnpm_locked_project(&pnpm, &home, dir.path());
    let store = dir.path().join("pnpm-store");
    let output = support::run_ok(
        lading(&home, &pnpm_project)
            .args(["restore", "--json", "--registry-url", &verdaccio.url])
            .args(["--token-env", "VERDACCIO_TOKEN", "--pnpm-store"])
            .arg(&store)
            .env("VERDACCIO_TOKEN", &verdaccio.token),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["ecosystem"], "pnpm", "{report}");
    assert!(
        report["ecosystems"][0]["packages"].as_u64().unwrap() >= 200,
        "{report}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pnpm install --offline --frozen-lockfile --store-dir"),
        "{stderr}"
    );

    verdaccio.stop();
    npm_ci_offline(&npm, &home, &project, &cache);
    yarn_install_offline(
        &yarn,
        &home,
        &yarn_project,
        &mirror,
        &dir.path().join("yarn-cache"),
    );
    pnpm_install_offline(&pnpm, &home, &pnpm_project, &store);
    // The same lockfile and store, with pnpm 10 (its store `v10` beside pnpm 12's `v11`).
    let pnpm10_project = dir.path().join("pnpm10-project");
    fs_err::create_dir_all(&pnpm10_project).unwrap();
    for file in ["package.json", "pnpm-lock.yaml"] {
        fs_err::copy(pnpm_project.join(file), pnpm10_project.join(file)).unwrap();
    }
    pnpm_install_offline(&pnpm10, &home, &pnpm10_project, &store);

    // A second restore into a fresh npm cache comes from the store: no request at all
    // (the registry is down).
    let second_cache = dir.path().join("npm-cache-2");
    let output = support::run_ok(
        lading(&home, &project)
            .args(["restore", "--json", "--registry-url", &verdaccio.url])
            .args(["--token-env", "VERDACCIO_TOKEN"])
            .env("VERDACCIO_TOKEN", &verdaccio.token)
            .env("npm_config_cache", &second_cache),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["downloaded"], 0, "{report}");
    // The same cache as the one `npm ci --offline` just installed from: same content
    // files, same index keys and integrities (a second `npm ci` would add ~10 s).
    assert_eq!(
        cache_files(&second_cache, "content-v2"),
        cache_files(&cache, "content-v2")
    );
    assert_eq!(index_keys(&second_cache), index_keys(&cache));
}

/// Relative paths of the files under `_cacache/<part>`.
fn cache_files(cache: &Path, part: &str) -> std::collections::BTreeSet<PathBuf> {
    let root = cache.join("_cacache").join(part);
    let found: std::collections::BTreeSet<PathBuf> = support::files_under(&root)
        .into_iter()
        .map(|path| path.strip_prefix(&root).unwrap().to_path_buf())
        .collect();
    assert!(!found.is_empty(), "nothing under {}", root.display());
    found
}

/// `(key, integrity)` of every index entry npm wrote or lading restored.
fn index_keys(cache: &Path) -> std::collections::BTreeSet<(String, String)> {
    let root = cache.join("_cacache/index-v5");
    cache_files(cache, "index-v5")
        .into_iter()
        .flat_map(|relative| {
            fs_err::read_to_string(root.join(relative))
                .unwrap()
                .lines()
                .filter_map(|line| line.split_once('\t'))
                .map(|(_, json)| {
                    let entry: serde_json::Value = serde_json::from_str(json).unwrap();
                    (
                        entry["key"].as_str().unwrap().to_owned(),
                        entry["integrity"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn restore_from_lading_serve_without_resolved_then_npm_ci_offline() {
    let npm = require_tool!(support::npm());
    require_tool!(support::aws());
    let packages = require_tool!(fixture());
    let (dir, server) = support::serve(ServerSpec::default());
    let user = crate::serve_npm::NpmUser::login(
        &server,
        dir.path(),
        "home",
        &server.credentials_file(),
        "main",
    );
    let home = user.home.clone();
    let token = user.token();
    let registry = format!("{}/d/local/npm/main/", server.url);
    publish(&registry, &token, &packages.iter().collect::<Vec<_>>());
    // `omit-lockfile-registry-resolved`: npm then needs packuments and index entries.
    let project = locked_project(&npm, &home, dir.path(), &fixture_dependencies(), true);
    let lockfile = fs_err::read_to_string(project.join("package-lock.json")).unwrap();
    assert!(
        !lockfile.contains("\"resolved\""),
        "the lockfile has resolved URLs"
    );
    let cache = dir.path().join("npm-cache");
    let mut command = lading(&home, &project);
    command
        .args(["restore", "--domain", "local", "--repository", "main"])
        .args(["--domain-owner", "000000000000", "--region", "us-east-1"])
        .args(["--endpoint-url", &server.url])
        .env("npm_config_cache", &cache);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    let output = support::run_ok(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("`{}`", cache.display())),
        "{stderr}"
    );
    drop(server);
    npm_ci_offline(&npm, &home, &project, &cache);
}

#[test]
fn tampered_tarball_fails_the_restore_and_leaves_no_cache() {
    let npm = require_tool!(support::npm());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let packages = require_tool!(fixture());
    let leaves: Vec<&FixturePackage> = unscoped_leaves(&packages, 2);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let verdaccio = verdaccio_serving(&verdaccio_bin, dir.path(), &home, &leaves);
    let project = locked_leaves(&npm, &home, dir.path(), &leaves, false);
    // Replace one stored tarball with other bytes.
    let victim = leaves[0];
    let stored = dir
        .path()
        .join("verdaccio/storage")
        .join(&victim.name)
        .join(format!("{}-{}.tgz", victim.name, victim.version));
    assert!(stored.is_file(), "{}", stored.display());
    let mut tampered = fs_err::read(&victim.file).unwrap();
    tampered.extend_from_slice(b"tampered");
    fs_err::write(&stored, &tampered).unwrap();

    let cache = dir.path().join("npm-cache");
    let output = support::run(
        lading(&home, &project)
            .args(["restore", "--registry-url", &verdaccio.url])
            .args(["--token-env", "VERDACCIO_TOKEN"])
            .env("VERDACCIO_TOKEN", &verdaccio.token)
            .env("npm_config_cache", &cache),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "sha512:{}",
        hex::encode(sha2::Sha512::digest(fs_err::read(&victim.file).unwrap()))
    );
    let actual = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&tampered)));
    for needle in [
        "digest mismatch".to_owned(),
        format!("`{}@{}`", victim.name, victim.version),
        format!(
            "{}{}/-/{}-{}.tgz",
            verdaccio.url, victim.name, victim.name, victim.version
        ),
        expected,
        actual.clone(),
    ] {
        assert!(
            stderr.contains(&needle),
            "`{needle}` missing from:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains(&verdaccio.token),
        "the token leaked: {stderr}"
    );
    // Nothing in npm's cache, and the tampered bytes are not in lading's store.
    assert!(!cache.join("_cacache").exists(), "npm cache written");
    let store_copy = home
        .join("lading-cache/store-v1/sha512")
        .join(&actual[7..9])
        .join(&actual[9..11])
        .join(&actual[11..]);
    assert!(!store_copy.exists(), "tampered bytes in the store");
}

#[test]
fn nuget_lockfile_restores_into_the_global_packages_folder_nuget_exe_reads() {
    use crate::serve_nuget::{mono, nuget_exe, token};
    use crate::support::zip_of;
    require_tool!(support::aws());
    let mono = require_tool!(mono());
    let nuget = require_tool!(nuget_exe());
    let (dir, server) = support::serve(ServerSpec::default());
    let token = token(&server, &server.credentials_file());
    let base = format!("{}/d/local/nuget/main/", server.url);
    let mut lock_entries = serde_json::Map::new();
    let mut signed_package = Vec::new();
    for (id, version) in [
        ("Lading.Restore.Core", "1.2.0"),
        ("Lading.Restore.Extra", "2.0.0-beta.1"),
        ("Lading.Restore.Signed", "3.0.0"),
    ] {
        let nuspec = format!(
            "<?xml version=\"1.0\"?><package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\"><metadata><id>{id}</id><version>{version}</version><authors>x</authors><description>d</description></metadata></package>"
        );
        let nuspec_name = format!("{id}.nuspec");
        let mut entries: Vec<(&str, &[u8])> = vec![
            (&nuspec_name, nuspec.as_bytes()),
            ("lib/net45/readme.txt", id.as_bytes()),
            ("[Content_Types].xml", b"<Types/>"),
        ];
        // NuGet's contentHash leaves the signature out: the lockfile pins the hash of the
        // package as it was before signing (the signature is appended as the last entry).
        let unsigned = zip_of(&entries);
        if id.ends_with("Signed") {
            entries.push((".signature.p7s", b"0\x82 not a real PKCS#7 signature"));
        }
        let package = zip_of(&entries);
        if id.ends_with("Signed") {
            signed_package.clone_from(&package);
        }
        let status = nuget_push(&base, &token, &package);
        assert!(status.is_success(), "push {id}: {status}");
        lock_entries.insert(id.to_owned(), nuget_lock_entry(version, &unsigned));
    }
    let project = dir.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("packages.lock.json"),
        serde_json::json!({"version": 1, "dependencies": {"net8.0": lock_entries}}).to_string(),
    )
    .unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let packages = dir.path().join("nuget-packages");
    let mut command = lading(&home, &project);
    command
        .args(["restore", "--domain", "local", "--repository", "main"])
        .args(["--domain-owner", "000000000000", "--region", "us-east-1"])
        .args(["--endpoint-url", &server.url])
        .env("NUGET_PACKAGES", &packages);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    support::run_ok(&mut command);
    drop(server);
    let folder = packages.join("lading.restore.core/1.2.0");
    for file in [
        "lading.restore.core.1.2.0.nupkg",
        "lading.restore.core.1.2.0.nupkg.sha512",
        "lading.restore.core.nuspec",
        ".nupkg.metadata",
        "lib/net45/readme.txt",
    ] {
        assert!(folder.join(file).is_file(), "{file} missing");
    }
    assert!(!folder.join("[Content_Types].xml").exists());
    // The signed package: its own bytes, `.sha512` of all of them, the lockfile's
    // contentHash in `.nupkg.metadata`, and no signature among the extracted files.
    let signed = packages.join("lading.restore.signed/3.0.0");
    assert_eq!(
        fs_err::read(signed.join("lading.restore.signed.3.0.0.nupkg")).unwrap(),
        signed_package
    );
    assert_eq!(
        fs_err::read_to_string(signed.join("lading.restore.signed.3.0.0.nupkg.sha512")).unwrap(),
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&signed_package))
    );
    let metadata: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(signed.join(".nupkg.metadata")).unwrap())
            .unwrap();
    assert_eq!(
        metadata["contentHash"],
        lock_entries["Lading.Restore.Signed"]["contentHash"]
    );
    assert!(!signed.join(".signature.p7s").exists());
    // nuget.exe, with no source but the folder lading wrote, installs both packages.
    let work = dir.path().join("work");
    fs_err::create_dir_all(&work).unwrap();
    fs_err::write(
        work.join("nuget.config"),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><configuration><packageSources><clear /></packageSources></configuration>",
    )
    .unwrap();
    for (id, version) in [
        ("Lading.Restore.Core", "1.2.0"),
        ("Lading.Restore.Extra", "2.0.0-beta.1"),
        ("Lading.Restore.Signed", "3.0.0"),
    ] {
        let mut command = support::clean_command(&mono, &home);
        command
            .current_dir(&work)
            .arg(&nuget)
            .args(["install", id, "-Version", version, "-NonInteractive"])
            .arg("-Source")
            .arg(&packages)
            .arg("-OutputDirectory")
            .arg(work.join("out"))
            .env("NUGET_PACKAGES", &packages);
        support::run_ok(&mut command);
        assert!(
            work.join(format!("out/{id}.{version}/lib/net45/readme.txt"))
                .is_file(),
            "{id} not installed"
        );
    }
}

/// Every index line of npm's cache is `<sha1 of the JSON>\t<JSON>` (no line torn or
/// interleaved by a concurrent writer); returns the number of entries.
fn check_index_lines(cache: &Path) -> usize {
    let mut entries = 0;
    let mut pending = vec![cache.join("_cacache/index-v5")];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            for line in fs_err::read_to_string(&path).unwrap().lines() {
                if line.is_empty() {
                    continue;
                }
                let (hash, json) = line
                    .split_once('\t')
                    .unwrap_or_else(|| panic!("torn line in {}: {line}", path.display()));
                assert_eq!(
                    hash,
                    hex::encode(sha1::Sha1::digest(json.as_bytes())),
                    "bad line in {}",
                    path.display()
                );
                let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
                assert!(parsed["integrity"].is_string(), "{json}");
                entries += 1;
            }
        }
    }
    entries
}

#[test]
fn two_concurrent_restores_into_one_cache_both_succeed_and_npm_ci_works() {
    let npm = require_tool!(support::npm());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let packages = require_tool!(fixture());
    // Packages without dependencies: any set of them is a complete install.
    let mut seen = std::collections::BTreeSet::new();
    let leaves: Vec<&FixturePackage> = packages
        .iter()
        .filter(|package| {
            package.manifest["dependencies"]
                .as_object()
                .is_none_or(serde_json::Map::is_empty)
                && seen.insert(package.name.clone())
        })
        .take(60)
        .collect();
    assert!(leaves.len() >= 40, "{} leaves", leaves.len());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let mut verdaccio = verdaccio_serving(&verdaccio_bin, dir.path(), &home, &leaves);
    let project = locked_leaves(&npm, &home, dir.path(), &leaves, true);
    let cache = dir.path().join("npm-cache");
    // Two restores at once: one lading store, one npm cache.
    let children: Vec<std::process::Child> = (0..2)
        .map(|_| {
            lading(&home, &project)
                .args(["restore", "--json", "--registry-url", &verdaccio.url])
                .args(["--token-env", "VERDACCIO_TOKEN"])
                .env("VERDACCIO_TOKEN", &verdaccio.token)
                .env("npm_config_cache", &cache)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", support::describe(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["ecosystems"][0]["packages"].as_u64(),
            Some(leaves.len() as u64),
            "{report}"
        );
    }
    verdaccio.stop();
    // Tarball and packument entries, each written at least once, none torn.
    let entries = check_index_lines(&cache);
    assert!(entries >= 2 * leaves.len(), "{entries} index entries");
    // No temporary files left in lading's store.
    let store = home.join("lading-cache/store-v1");
    let leftovers: Vec<_> = fs_err::read_dir(store.join("tmp"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // npm's own check of its cache, then the offline install.
    let output =
        support::run_ok(npm_command(&npm, &home, &project, &cache).args(["cache", "verify"]));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Content verified:"), "{text}");
    npm_ci_offline_installs(&npm, &home, &project, &cache, &leaves);
}

/// `npm ci --offline` succeeds and installs every one of `packages`.
fn npm_ci_offline_installs(
    npm: &Path,
    home: &Path,
    project: &Path,
    cache: &Path,
    packages: &[&FixturePackage],
) {
    let output = support::run(npm_command(npm, home, project, cache).args([
        "ci",
        "--offline",
        "--ignore-scripts",
    ]));
    assert!(output.status.success(), "{}", support::describe(&output));
    for package in packages {
        assert!(
            project
                .join("node_modules")
                .join(&package.name)
                .join("package.json")
                .is_file(),
            "{} not installed",
            package.name
        );
    }
}

#[test]
fn cache_key_prints_and_exports_a_key_that_follows_the_lockfiles() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let project = dir.path().join("project");
    fs_err::create_dir_all(project.join("web")).unwrap();
    fs_err::create_dir_all(&home).unwrap();
    let lockfile = project.join("web/package-lock.json");
    fs_err::write(
        &lockfile,
        r#"{"name":"a","lockfileVersion":3,"requires":true,"packages":{"":{"name":"a"}}}"#,
    )
    .unwrap();
    fs_err::write(
        project.join("requirements.txt"),
        format!("idna==3.4 --hash=sha256:{}\n", "a".repeat(64)),
    )
    .unwrap();
    fs_err::write(project.join("README.md"), "not a lockfile\n").unwrap();
    let github_output = dir.path().join("github-output");
    fs_err::write(&github_output, "earlier=kept\n").unwrap();
    let npm_cache = dir.path().join("npm-cache");
    let cache_key = |extra: &[&str]| {
        let output = support::run_ok(
            lading(&home, &project)
                .arg("cache-key")
                .args(extra)
                .env("npm_config_cache", &npm_cache)
                .env("GITHUB_OUTPUT", &github_output),
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
        (lines, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (lines, stderr) = cache_key(&[]);
    let key = lines[0].clone();
    let prefix = format!(
        "lading-{}-{}-",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let hash = key.strip_prefix(&prefix).unwrap_or_else(|| panic!("{key}"));
    assert_eq!(hash.len(), 32, "{key}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    // The store, npm's cache, the wheelhouse: one path per line, no duplicates.
    assert_eq!(
        lines[1..],
        [
            home.join("lading-cache/store-v1").display().to_string(),
            npm_cache.display().to_string(),
            ".lading/wheelhouse".to_owned(),
        ],
        "{lines:?}"
    );
    assert!(
        stderr.contains(&format!(
            "exported `key` and `paths` to `{}`",
            github_output.display()
        )),
        "{stderr}"
    );
    // GITHUB_OUTPUT: appended (earlier lines kept), `key` and `paths` as heredocs.
    let exported = fs_err::read_to_string(&github_output).unwrap();
    let rest = exported
        .strip_prefix("earlier=kept\n")
        .unwrap_or_else(|| panic!("{exported}"));
    let heredoc = |text: &str, name: &str| -> (String, usize) {
        let (head, body) = text.split_once('\n').unwrap();
        let delimiter = head
            .strip_prefix(&format!("{name}<<"))
            .unwrap_or_else(|| panic!("{exported}"));
        let end = body
            .find(&format!("\n{delimiter}\n"))
            .unwrap_or_else(|| panic!("{exported}"));
        (
            body[..end].to_owned(),
            head.len() + 1 + end + delimiter.len() + 2,
        )
    };
    let (exported_key, used) = heredoc(rest, "key");
    assert_eq!(exported_key, key);
    let (exported_paths, used_paths) = heredoc(&rest[used..], "paths");
    assert_eq!(exported_paths.lines().collect::<Vec<_>>(), lines[1..]);
    assert_eq!(used + used_paths, rest.len(), "{exported}");

    // Same lockfiles, same key; other files do not matter; a lockfile's bytes do.
    fs_err::write(project.join("README.md"), "changed\n").unwrap();
    assert_eq!(cache_key(&[]).0[0], key);
    assert!(cache_key(&["--prefix", "deps"]).0[0].starts_with("deps-"));
    fs_err::write(
        &lockfile,
        r#"{"name":"a","lockfileVersion":3,"requires":true,"packages":{"":{"name":"a","version":"2.0.0"}}}"#,
    )
    .unwrap();
    let (changed, _) = cache_key(&[]);
    assert_ne!(changed[0], key);
    assert_eq!(changed[1..], lines[1..]);
}

#[test]
fn unsupported_lockfiles_are_refused_clearly_and_found_ones_named_in_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let project = dir.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    // yarn 3's lockfile (yarn 4's, cacheKey `10c0`, restore into its cache), a pnpm 7
    // lockfile, and a Cargo.lock (restored only when named).
    fs_err::write(
        project.join("yarn.lock"),
        "# This file is generated by running \"yarn install\" inside your project.\n# Manual changes might be lost - proceed with caution!\n\n__metadata:\n  version: 6\n  cacheKey: 8\n",
    )
    .unwrap();
    fs_err::write(project.join("pnpm-lock.yaml"), "lockfileVersion: 5.4\n").unwrap();
    fs_err::write(project.join("Cargo.lock"), "version = 4\n").unwrap();
    let npm_cache = dir.path().join("npm-cache");
    for (file, message, hint) in [
        (
            "yarn.lock",
            "restored only with yarn 4's default cacheKey `10c0`",
            "hint: restore the lockfiles lading supports",
        ),
        ("pnpm-lock.yaml", "older than pnpm 8's", "pnpm install"),
    ] {
        let output = support::run(
            lading(&home, &project)
                .args(["restore", "--lockfile", file])
                .args(["--registry-url", "http://127.0.0.1:9/"])
                .env("npm_config_cache", &npm_cache),
        );
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            support::describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(file) && stderr.contains(message) && stderr.contains(hint),
            "{stderr}"
        );
        assert!(!npm_cache.exists(), "npm cache written for {file}");
        assert!(
            !home.join(".local/share/pnpm").exists(),
            "pnpm store written for {file}"
        );
    }
    // Found by the search instead: a warning for each, then no lockfile to restore.
    let output = support::run(
        lading(&home, &project)
            .arg("restore")
            .args(["--registry-url", "http://127.0.0.1:9/"]),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in [
        "restored only with yarn 4's default cacheKey `10c0`",
        "lockfiles older than pnpm 8's are not restored",
        "Cargo.lock is restored only when named",
        "no lockfile found",
    ] {
        assert!(
            stderr.contains(needle),
            "`{needle}` missing from:\n{stderr}"
        );
    }
}

#[test]
fn a_progress_spinner_shows_on_a_terminal_only() {
    let npm = require_tool!(support::npm());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let script = require_tool!(support::find_tool(
        "LADING_TEST_SCRIPT",
        None,
        Some("script")
    ));
    let packages = require_tool!(fixture());
    let leaves: Vec<&FixturePackage> = unscoped_leaves(&packages, 3);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let verdaccio = verdaccio_serving(&verdaccio_bin, dir.path(), &home, &leaves);
    let project = locked_leaves(&npm, &home, dir.path(), &leaves, false);
    let restore = |cache: &str| {
        format!(
            "{} restore --registry-url {} --token-env VERDACCIO_TOKEN --npm-cache {}",
            support::lading_bin().display(),
            verdaccio.url,
            dir.path().join(cache).display()
        )
    };
    // On a terminal (util-linux `script` gives the command a pseudo-terminal).
    let mut command = support::clean_command(&script, &home);
    command
        .current_dir(&project)
        .env("LADING_CACHE_DIR", home.join("lading-cache"))
        .env("VERDACCIO_TOKEN", &verdaccio.token)
        .env("TERM", "xterm")
        .args(["-qec", &restore("tty-cache"), "/dev/null"]);
    let output = support::run_ok(&mut command);
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(
        terminal.contains("npm: ")
            && terminal.contains(" downloaded (")
            && terminal.contains(" from the store ["),
        "no spinner on the terminal:\n{terminal}"
    );
    assert!(terminal.contains("npm: 3 packages from"), "{terminal}");
    // Not a terminal: the summary line alone.
    let output = support::run_ok(
        lading(&home, &project)
            .args(["restore", "--registry-url", &verdaccio.url])
            .args(["--token-env", "VERDACCIO_TOKEN", "--npm-cache"])
            .arg(dir.path().join("plain-cache"))
            .env("VERDACCIO_TOKEN", &verdaccio.token),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("npm: 3 packages from"), "{stderr}");
    assert!(!stderr.contains("downloaded ("), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

/// Every file under `dir`, as (path, sha512 of its bytes) pairs.
fn file_digests(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let digest = hex::encode(sha2::Sha512::digest(fs_err::read(&path).unwrap()));
                found.push((path, digest));
            }
        }
    }
    found
}

#[test]
fn restore_through_faults_ends_verified_or_fails_cleanly_with_nothing_corrupt_cached() {
    use crate::support::faults::{Fault, FaultProxy, Rule};

    let npm = require_tool!(support::npm());
    require_tool!(support::aws());
    let packages = require_tool!(fixture());
    let leaves: Vec<&FixturePackage> = unscoped_leaves(&packages, 6);
    assert_eq!(leaves.len(), 6);
    let (dir, server) = support::serve(ServerSpec::default());
    let user = crate::serve_npm::NpmUser::login(
        &server,
        dir.path(),
        "publisher",
        &server.credentials_file(),
        "main",
    );
    let token = user.token();
    publish(
        &format!("{}/d/local/npm/main/", server.url),
        &token,
        &leaves,
    );
    // Lock through the proxy, so the lockfile's `resolved` URLs go through it.
    let proxy = FaultProxy::start(&server.url, Vec::new());
    let registry = format!("{}/d/local/npm/main/", proxy.url);
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    fs_err::write(
        home.join(".npmrc"),
        format!(
            "registry={registry}\n{}:_authToken={token}\n",
            registry.trim_start_matches("http:")
        ),
    )
    .unwrap();
    let project = locked_leaves(&npm, &home, dir.path(), &leaves, false);
    let tarball = |package: &FixturePackage| -> &'static str {
        Box::leak(format!("/-/{}-{}.tgz", package.name, package.version).into_boxed_str())
    };
    let rule = |package: &FixturePackage, fault: Fault, times: usize| Rule {
        method: Some("GET"),
        path: tarball(package),
        fault,
        times,
    };
    let cache = dir.path().join("npm-cache");
    let restore = || {
        support::run(
            lading(&home, &project)
                .args(["restore", "--registry-url", &registry])
                .args(["--token-env", "REGISTRY_TOKEN"])
                .env("REGISTRY_TOKEN", &token)
                .env("npm_config_cache", &cache),
        )
    };
    let good: std::collections::BTreeSet<String> = leaves
        .iter()
        .map(|package| hex::encode(sha2::Sha512::digest(fs_err::read(&package.file).unwrap())))
        .collect();
    let store = home.join("lading-cache/store-v1/sha512");
    let check_cache = || {
        for (path, digest) in file_digests(&cache.join("_cacache/content-v2")) {
            assert!(
                good.contains(&digest),
                "`{}` in npm's cache is no tarball that was published",
                path.display()
            );
        }
        // lading's store: every file's bytes hash to the name it is stored under.
        let stored = file_digests(&store);
        for (path, digest) in &stored {
            let name: String = path
                .strip_prefix(&store)
                .unwrap()
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            assert_eq!(&name, digest, "`{}` is corrupt", path.display());
            assert!(good.contains(digest), "{}", path.display());
        }
        stored.len()
    };

    // Wrong content (same length, other bytes): refused, exit 1, nothing of it cached.
    proxy.set_rules(vec![rule(leaves[0], Fault::Corrupt, usize::MAX)]);
    let output = restore();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("digest mismatch"), "{stderr}");
    assert!(stderr.contains(tarball(leaves[0])), "{stderr}");
    assert_eq!(
        check_cache(),
        leaves.len() - 1,
        "the five good tarballs are stored"
    );

    // A body cut short every time: retried, then exit 3 (transient), nothing partial cached.
    // (The other five were verified and stored by the first run; leaves[0] was not.)
    proxy.set_rules(vec![rule(leaves[0], Fault::Truncate, usize::MAX)]);
    let output = restore();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        support::describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(tarball(leaves[0])), "{stderr}");
    assert!(!stderr.contains(&token), "the token leaked: {stderr}");
    let attempts = proxy
        .log()
        .iter()
        .filter(|line| line.contains(tarball(leaves[0])) && line.ends_with(" Truncate"))
        .count();
    assert!(attempts >= 2, "no retry: {:?}", proxy.log());
    assert_eq!(check_cache(), leaves.len() - 1);

    // Transient faults of every kind, once each, on cold caches: the restore retries
    // through all of them.
    fs_err::remove_dir_all(home.join("lading-cache")).unwrap();
    let _ = fs_err::remove_dir_all(&cache);
    proxy.set_rules(vec![
        rule(leaves[0], Fault::ServiceUnavailable, 2),
        rule(leaves[1], Fault::TooManyRequests(1), 1),
        rule(leaves[2], Fault::Reset, 1),
        rule(leaves[3], Fault::Truncate, 1),
        rule(leaves[4], Fault::ResetAfterForward, 1),
        rule(leaves[5], Fault::Slow, 1),
    ]);
    let output = restore();
    assert!(output.status.success(), "{}", support::describe(&output));
    let log = proxy.log();
    for fault in [
        "ServiceUnavailable",
        "TooManyRequests(1)",
        "Reset",
        "Truncate",
        "ResetAfterForward",
        "Slow",
    ] {
        assert!(
            log.iter().any(|line| line.ends_with(&format!(" {fault}"))),
            "{fault} never injected: {log:?}"
        );
    }
    assert_eq!(check_cache(), leaves.len());
    assert_eq!(
        file_digests(&cache.join("_cacache/content-v2")).len(),
        leaves.len()
    );
    // npm installs from what was restored, with the registry gone.
    drop(proxy);
    drop(server);
    npm_ci_offline_installs(&npm, &home, &project, &cache, &leaves);
}
