//! `lading restore --install` for npm: the `node_modules` it writes equals, path for path and
//! byte for byte (modes and `.bin` targets included), what `npm ci` itself writes for the same
//! lockfile, run in the test: 200+ real packages from Verdaccio plus probe packages built
//! here for what the fixture lacks (a `directories.bin`, a CRLF `#!` line, a 0o700 file, a
//! `.gitignore`, a `postinstall` script, a dev-only package), a workspace linked with its
//! bin, and the project's own `prepare` script; `npm ls --all` accepts the tree and a
//! following `npm ci` writes the same one. From `lading serve` too, with a lockfile without
//! `resolved` URLs.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::require_tool;
use crate::restore::{
    FixturePackage, fixture, fixture_dependencies, lading, locked_project, npm_command, publish,
};
use crate::support::peers::Verdaccio;
use crate::support::{self, LadingServer, ServerSpec};

/// One filesystem entry as the comparison sees it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item {
    Dir(u32),
    File(u32, String),
    Link(PathBuf),
}

/// Every entry under `root` (relative path → kind, permission bits, SHA-256 or link target).
pub(crate) fn tree(root: &Path) -> BTreeMap<PathBuf, Item> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let metadata = fs_err::symlink_metadata(&path).unwrap();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            let mode = metadata.permissions().mode() & 0o7777;
            let item = if metadata.is_symlink() {
                Item::Link(fs_err::read_link(&path).unwrap())
            } else if metadata.is_dir() {
                pending.push(path);
                Item::Dir(mode)
            } else {
                Item::File(
                    mode,
                    hex::encode(sha2::Sha256::digest(fs_err::read(&path).unwrap())),
                )
            };
            found.insert(relative, item);
        }
    }
    found
}

/// The differences between two trees, at most 20, for the assertion message.
fn differences(left: &BTreeMap<PathBuf, Item>, right: &BTreeMap<PathBuf, Item>) -> Vec<String> {
    let mut keys: Vec<&PathBuf> = left.keys().chain(right.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| left.get(*key) != right.get(*key))
        .take(20)
        .map(|key| {
            format!(
                "{}: npm {:?}, lading {:?}",
                key.display(),
                left.get(key),
                right.get(key)
            )
        })
        .collect()
}

pub(crate) fn assert_same_tree(
    npm_tree: &BTreeMap<PathBuf, Item>,
    npm_project: &Path,
    project: &Path,
    what: &str,
) {
    let ours = tree(&project.join("node_modules"));
    let differences = differences(npm_tree, &ours);
    let hidden = Path::new("node_modules/.package-lock.json");
    let mut shown = String::new();
    if differences
        .iter()
        .any(|line| line.starts_with(".package-lock.json"))
    {
        let theirs = fs_err::read_to_string(npm_project.join(hidden)).unwrap();
        let mine = fs_err::read_to_string(project.join(hidden)).unwrap();
        shown = similar::TextDiff::from_lines(&theirs, &mine)
            .unified_diff()
            .context_radius(4)
            .header("npm", "lading")
            .to_string()
            .chars()
            .take(4000)
            .collect();
    }
    assert!(
        differences.is_empty(),
        "{what}: {} entries from npm ci, {} from lading; first differences:\n{}\n{shown}",
        npm_tree.len(),
        ours.len(),
        differences.join("\n")
    );
}

/// A probe package built here: `files` under `package/` with their modes.
pub(crate) fn probe(
    dir: &Path,
    manifest: &serde_json::Value,
    files: &[(&str, &[u8], u32)],
) -> FixturePackage {
    let name = manifest["name"].as_str().unwrap().to_owned();
    let version = manifest["version"].as_str().unwrap().to_owned();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let manifest_text = serde_json::to_vec_pretty(manifest).unwrap();
    let mut entries: Vec<(&str, &[u8], u32)> = vec![("package.json", &manifest_text, 0o644)];
    entries.extend_from_slice(files);
    for (path, data, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("package/{path}"), data)
            .unwrap();
    }
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    let file = dir.join(format!("{}-{version}.tgz", name.replace('/', "-")));
    fs_err::write(&file, bytes).unwrap();
    FixturePackage {
        name,
        version,
        file,
        manifest: manifest.clone(),
    }
}

/// Packages for what the real fixture lacks.
fn probes(dir: &Path) -> Vec<FixturePackage> {
    vec![
        probe(
            dir,
            &serde_json::json!({"name": "lading-probe-bins", "version": "1.0.0", "directories": {"bin": "./tools"}}),
            &[
                (
                    "tools/crlf",
                    b"#!/usr/bin/env node\r\nconsole.log(1)\r\n",
                    0o644,
                ),
                ("tools/nested/deep.js", b"#!/usr/bin/env node\n", 0o644),
                ("tools/.hidden", b"not a bin", 0o644),
                ("private.sh", b"#!/bin/sh\n", 0o700),
                (".gitignore", b"node_modules\n", 0o644),
                ("lib/index.js", b"module.exports = 1\n", 0o664),
            ],
        ),
        probe(
            dir,
            &serde_json::json!({"name": "lading-probe-script", "version": "1.0.0",
                "scripts": {"postinstall": "node -e \"require('fs').writeFileSync('postinstall.txt', process.env.npm_lifecycle_event + ' ' + process.env.npm_package_name)\""}}),
            &[("index.js", b"module.exports = 2\n", 0o644)],
        ),
        probe(
            dir,
            &serde_json::json!({"name": "@lading-probe/scoped", "version": "1.0.0", "bin": "bin/scoped.js"}),
            &[("bin/scoped.js", b"#!/usr/bin/env node\n", 0o644)],
        ),
        probe(
            dir,
            &serde_json::json!({"name": "@lading-probe/dev-only", "version": "1.0.0", "bin": {"dev-only": "cli.js"}}),
            &[("cli.js", b"#!/usr/bin/env node\n", 0o755)],
        ),
    ]
}

/// The project: the fixture's roots, the probes, a dev dependency, a workspace with a bin,
/// and a `prepare` script; locked by npm against the registry in `home/.npmrc`.
fn probe_project(npm: &Path, home: &Path, dir: &Path) -> PathBuf {
    let project = dir.join("project");
    fs_err::create_dir_all(project.join("packages/tool")).unwrap();
    let mut dependencies = fixture_dependencies();
    for (name, version) in [
        ("lading-probe-bins", "1.0.0"),
        ("lading-probe-script", "1.0.0"),
        ("@lading-probe/scoped", "1.0.0"),
    ] {
        dependencies[name] = version.into();
    }
    fs_err::write(
        project.join("package.json"),
        serde_json::json!({
            "name": "install-app", "version": "1.0.0", "private": true,
            "workspaces": ["packages/tool"],
            "dependencies": dependencies,
            "devDependencies": {"@lading-probe/dev-only": "1.0.0"},
            "scripts": {"prepare": "node -e \"require('fs').writeFileSync('prepared.txt', process.env.npm_lifecycle_event)\""},
        })
        .to_string(),
    )
    .unwrap();
    fs_err::write(
        project.join("packages/tool/package.json"),
        serde_json::json!({"name": "tool", "version": "1.0.0", "directories": {"bin": "bin"}, "dependencies": {"@lading-probe/scoped": "1.0.0"}}).to_string(),
    )
    .unwrap();
    fs_err::create_dir_all(project.join("packages/tool/bin")).unwrap();
    fs_err::write(
        project.join("packages/tool/bin/tool.js"),
        "#!/usr/bin/env node\n",
    )
    .unwrap();
    fs_err::write(project.join("packages/tool/bin/.hidden"), "not a bin\n").unwrap();
    support::run_ok(
        npm_command(npm, home, &project, &dir.join("lock-cache")).args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
        ]),
    );
    project
}

/// A copy of `project`'s sources (no `node_modules`) at `to`.
pub(crate) fn copy_project(project: &Path, to: &Path) -> PathBuf {
    fs_err::create_dir_all(to.join("packages/tool/bin")).unwrap();
    for file in [
        "package.json",
        "package-lock.json",
        "packages/tool/package.json",
        "packages/tool/bin/tool.js",
        "packages/tool/bin/.hidden",
    ] {
        if project.join(file).exists() {
            fs_err::copy(project.join(file), to.join(file)).unwrap();
        }
    }
    to.to_path_buf()
}

pub(crate) fn install(
    home: &Path,
    project: &Path,
    registry: &str,
    token: &str,
    extra: &[&str],
) -> std::process::Output {
    support::run_ok(
        lading(home, project)
            .args(["restore", "--install", "--registry-url", registry])
            .args(["--token-env", "REGISTRY_TOKEN"])
            .args(extra)
            .env("REGISTRY_TOKEN", token),
    )
}

#[test]
fn install_writes_the_tree_npm_ci_writes_and_npm_accepts_it() {
    let npm = require_tool!(support::npm());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let packages = require_tool!(fixture());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let probes = probes(dir.path());
    let mut verdaccio = Verdaccio::start(&verdaccio_bin, &dir.path().join("verdaccio"));
    publish(
        &verdaccio.url,
        &verdaccio.token,
        &packages.iter().chain(&probes).collect::<Vec<_>>(),
    );
    fs_err::write(home.join(".npmrc"), verdaccio.npmrc()).unwrap();
    let project = probe_project(&npm, &home, dir.path());
    let cache = dir.path().join("npm-cache");

    // npm ci itself, scripts and all.
    let by_npm = copy_project(&project, &dir.path().join("by-npm"));
    support::run_ok(npm_command(&npm, &home, &by_npm, &cache).arg("ci"));
    let npm_tree = tree(&by_npm.join("node_modules"));
    assert!(npm_tree.len() > 2000, "{} entries", npm_tree.len());
    assert!(
        by_npm
            .join("node_modules/lading-probe-script/postinstall.txt")
            .is_file()
    );
    // The workspace's `directories.bin`, read from its folder; the probe's, absent from the
    // lockfile's `bin`, is not linked (npm links what the lockfile says).
    assert!(
        by_npm.join("node_modules/.bin/tool.js").is_symlink(),
        "{:?}\n{}",
        fs_err::read_dir(by_npm.join("node_modules/.bin"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect::<Vec<_>>(),
        fs_err::read_to_string(by_npm.join("package-lock.json"))
            .unwrap()
            .lines()
            .take(60)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!by_npm.join("node_modules/.bin/deep.js").exists());

    // lading, into a copy with a stale node_modules to clear first.
    let by_lading = copy_project(&project, &dir.path().join("by-lading"));
    fs_err::create_dir_all(by_lading.join("node_modules/stale")).unwrap();
    let output = install(&home, &by_lading, &verdaccio.url, &verdaccio.token, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("npm: ") && stderr.contains("node_modules"),
        "{stderr}"
    );
    assert_same_tree(&npm_tree, &by_npm, &by_lading, "lading restore --install");
    assert_eq!(
        fs_err::read_to_string(by_lading.join("prepared.txt")).unwrap(),
        "prepare"
    );
    support::run_ok(npm_command(&npm, &home, &by_lading, &cache).args(["ls", "--all"]));
    // A following npm ci writes the same tree.
    support::run_ok(npm_command(&npm, &home, &by_lading, &cache).args(["ci", "--offline"]));
    assert_same_tree(&npm_tree, &by_npm, &by_lading, "npm ci after lading");

    // --ignore-scripts, from the store alone (the registry is down): npm ci's tree less what
    // the probe's postinstall script wrote. (`--omit` has its own test, on a small graph.)
    verdaccio.stop();
    let mut npm_tree = npm_tree;
    assert!(
        npm_tree
            .remove(Path::new("lading-probe-script/postinstall.txt"))
            .is_some()
    );
    fs_err::remove_file(by_lading.join("prepared.txt")).unwrap();
    let output = install(
        &home,
        &by_lading,
        &verdaccio.url,
        &verdaccio.token,
        &["--ignore-scripts", "--json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ecosystems"][0]["downloaded"], 0, "{report}");
    assert_same_tree(
        &npm_tree,
        &by_npm,
        &by_lading,
        "lading restore --install --ignore-scripts",
    );
    assert!(!by_lading.join("prepared.txt").exists());
    // Each link mode places the same tree (this filesystem has no reflinks: `reflink` refuses).
    for mode in ["copy", "hardlink"] {
        install(
            &home,
            &by_lading,
            &verdaccio.url,
            &verdaccio.token,
            &["--ignore-scripts", "--link", mode],
        );
        assert_same_tree(&npm_tree, &by_npm, &by_lading, mode);
    }
}

#[test]
fn install_from_lading_serve_without_resolved_urls_equals_npm_ci() {
    let npm = require_tool!(support::npm());
    require_tool!(support::aws());
    let packages = require_tool!(fixture());
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("data"), ServerSpec::default());
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
    // A small closed part of the fixture is enough for what this test is about (packuments
    // instead of `resolved`, scoped names, a nested second version): express, and
    // @babel/code-frame and debug 4 beside it.
    let dependencies = serde_json::json!({
        "express": "4.21.2", "@babel/code-frame": "7.29.17", "debug": "4.4.3"
    });
    let project = locked_project(&npm, &home, dir.path(), &dependencies, true);
    assert!(
        !fs_err::read_to_string(project.join("package-lock.json"))
            .unwrap()
            .contains("\"resolved\"")
    );
    let by_npm = copy_project(&project, &dir.path().join("by-npm"));
    support::run_ok(
        npm_command(&npm, &home, &by_npm, &dir.path().join("npm-cache"))
            .args(["ci", "--ignore-scripts"]),
    );
    let by_lading = copy_project(&project, &dir.path().join("by-lading"));
    install(&home, &by_lading, &registry, &token, &["--ignore-scripts"]);
    assert_same_tree(
        &tree(&by_npm.join("node_modules")),
        &by_npm,
        &by_lading,
        "from lading serve",
    );
}

#[test]
fn entries_lading_cannot_install_as_npm_would_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    for (lock, expected) in [
        (
            r#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/g":{"version":"1.0.0","resolved":"git+ssh://git@github.com/x/g.git#abc"}}}"#,
            "`node_modules/g` comes from `git+ssh://git@github.com/x/g.git#abc`",
        ),
        (
            r#"{"lockfileVersion":1,"dependencies":{}}"#,
            "npm install --package-lock-only",
        ),
    ] {
        fs_err::write(dir.path().join("package-lock.json"), lock).unwrap();
        let output = support::run(lading(&home, dir.path()).args([
            "restore",
            "--install",
            "--registry-url",
            "http://127.0.0.1:9/",
        ]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!dir.path().join("node_modules").exists());
    }
}

/// `--omit dev|optional|peer` leaves out what `npm ci --omit` leaves out, compared with
/// npm's own tree for each combination, on a small graph built for it: a package needed by
/// prod and by dev (kept by `--omit dev`), dev-only and optional-only branches, one reached
/// from both (`devOptional`: left out only when both are omitted), a peer dependency, and an
/// optional package for another platform whose dependency nothing else needs (npm drops
/// both, arborist's `optionalSet`).
#[test]
fn omit_leaves_out_what_npm_ci_omit_leaves_out() {
    let npm = require_tool!(support::npm());
    let verdaccio_bin = require_tool!(Verdaccio::find());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let package = |name: &str, extra: serde_json::Value| {
        let mut manifest = serde_json::json!({"name": name, "version": "1.0.0"});
        for (key, value) in extra.as_object().unwrap() {
            manifest[key] = value.clone();
        }
        probe(
            dir.path(),
            &manifest,
            &[(
                "index.js",
                format!("module.exports = '{name}'\n").as_bytes(),
                0o644,
            )],
        )
    };
    let one = |names: &[&str]| -> serde_json::Value {
        names
            .iter()
            .map(|name| (name.to_string(), serde_json::json!("1.0.0")))
            .collect()
    };
    let packages = vec![
        package(
            "omit-prod",
            serde_json::json!({"dependencies": one(&["omit-shared"])}),
        ),
        package("omit-shared", serde_json::json!({})),
        package(
            "omit-dev",
            serde_json::json!({"dependencies": one(&["omit-shared", "omit-dev-only", "omit-overlap"]),
                "bin": {"omit-dev": "index.js"}}),
        ),
        package("omit-dev-only", serde_json::json!({})),
        package(
            "omit-opt",
            serde_json::json!({"dependencies": one(&["omit-opt-only", "omit-overlap"])}),
        ),
        package("omit-opt-only", serde_json::json!({})),
        package("omit-overlap", serde_json::json!({})),
        package(
            "omit-peer-host",
            serde_json::json!({"peerDependencies": one(&["omit-peer"])}),
        ),
        package("omit-peer", serde_json::json!({})),
        package(
            "omit-plan9",
            serde_json::json!({"os": ["plan9"], "dependencies": one(&["omit-plan9-dep", "omit-shared"])}),
        ),
        package("omit-plan9-dep", serde_json::json!({})),
    ];
    let verdaccio = Verdaccio::start(&verdaccio_bin, &dir.path().join("verdaccio"));
    publish(
        &verdaccio.url,
        &verdaccio.token,
        &packages.iter().collect::<Vec<_>>(),
    );
    fs_err::write(home.join(".npmrc"), verdaccio.npmrc()).unwrap();
    let project = dir.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("package.json"),
        serde_json::json!({
            "name": "omit-app", "version": "1.0.0", "private": true,
            "dependencies": one(&["omit-prod", "omit-peer-host"]),
            "devDependencies": one(&["omit-dev"]),
            "optionalDependencies": one(&["omit-opt", "omit-plan9"]),
        })
        .to_string(),
    )
    .unwrap();
    let cache = dir.path().join("npm-cache");
    support::run_ok(npm_command(&npm, &home, &project, &cache).args([
        "install",
        "--package-lock-only",
        "--ignore-scripts",
    ]));
    let lock: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(project.join("package-lock.json")).unwrap())
            .unwrap();
    // The graph has each case the test is about, as npm flagged it.
    let flags = |location: &str| -> Vec<&str> {
        ["dev", "optional", "devOptional", "peer"]
            .into_iter()
            .filter(|flag| lock["packages"][location][*flag] == true)
            .collect()
    };
    assert_eq!(flags("node_modules/omit-shared"), Vec::<&str>::new());
    assert_eq!(flags("node_modules/omit-dev-only"), ["dev"]);
    assert_eq!(flags("node_modules/omit-opt-only"), ["optional"]);
    assert_eq!(flags("node_modules/omit-overlap"), ["devOptional"]);
    assert_eq!(flags("node_modules/omit-peer"), ["peer"]);
    assert_eq!(flags("node_modules/omit-plan9-dep"), ["optional"]);
    // One online run fills npm's cache (and is the tree with nothing omitted); each
    // combination then runs offline.
    let by_npm = copy_project(&project, &dir.path().join("by-npm"));
    support::run_ok(npm_command(&npm, &home, &by_npm, &cache).args(["ci", "--ignore-scripts"]));
    assert!(!by_npm.join("node_modules/omit-plan9").exists());
    assert!(!by_npm.join("node_modules/omit-plan9-dep").exists());
    let by_lading = copy_project(&project, &dir.path().join("by-lading"));
    install(
        &home,
        &by_lading,
        &verdaccio.url,
        &verdaccio.token,
        &["--ignore-scripts"],
    );
    assert_same_tree(
        &tree(&by_npm.join("node_modules")),
        &by_npm,
        &by_lading,
        "nothing omitted",
    );
    for omit in [
        &["dev"][..],
        &["optional"][..],
        &["dev", "optional"][..],
        &["peer"][..],
    ] {
        let mut npm_ci = npm_command(&npm, &home, &by_npm, &cache);
        npm_ci.args(["ci", "--offline", "--ignore-scripts"]);
        let mut args = vec!["--ignore-scripts"];
        for kind in omit {
            npm_ci.args(["--omit", kind]);
            args.extend(["--omit", kind]);
        }
        support::run_ok(&mut npm_ci);
        install(&home, &by_lading, &verdaccio.url, &verdaccio.token, &args);
        assert_same_tree(
            &tree(&by_npm.join("node_modules")),
            &by_npm,
            &by_lading,
            &format!("--omit {omit:?}"),
        );
    }
}
