//! `lading restore --install` and npm's `engines` check (issue 19): an optional package whose
//! `engines` exclude the running node or npm is left out with its optional set, as `npm ci`
//! leaves it out; a required one is installed with a warning, and refused under
//! `engine-strict`, as npm does. Each compared with what `npm ci` itself writes.

use std::path::Path;

use crate::install_npm::{assert_same_tree, copy_project, install, probe, tree};
use crate::require_tool;
use crate::restore::{lading, npm_command, publish};
use crate::support::{self, peers::Verdaccio};

/// Optional packages whose `engines.node` excludes every node (`<0.0.1`, with a dependency
/// only it needs and one the project needs too), whose `engines.npm` excludes every npm, and
/// whose range does not parse (npm counts that a mismatch too); one that admits today's node
/// and npm; a required package whose `engines.node` excludes every node. First, on its own
/// lockfile, a package reached from a dev and from an optional dependency (`devOptional`,
/// so not optional) for another platform: refused, unless `--omit dev --omit optional`
/// leaves it out before npm checks platforms.
#[test]
fn optional_packages_whose_engines_exclude_this_node_are_left_out_as_npm_ci_does() {
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
            "engines-prod",
            serde_json::json!({"dependencies": one(&["engines-shared"])}),
        ),
        package("engines-shared", serde_json::json!({})),
        package(
            "engines-old-node",
            serde_json::json!({"engines": {"node": "<0.0.1"},
                "dependencies": one(&["engines-old-node-dep", "engines-shared"]),
                "bin": {"engines-old-node": "index.js"}}),
        ),
        package("engines-old-node-dep", serde_json::json!({})),
        package(
            "engines-old-npm",
            serde_json::json!({"engines": {"node": ">=0.10", "npm": "^1.0.0 || ^2.0.0"}}),
        ),
        package(
            "engines-invalid",
            serde_json::json!({"engines": {"node": "node >= 0.8"}}),
        ),
        package(
            "engines-fine",
            serde_json::json!({"engines": {"node": ">=0.10 || 0.8.x", "npm": ">= 1"}}),
        ),
        package(
            "engines-required-old",
            serde_json::json!({"engines": {"node": "<0.0.1"}}),
        ),
        package(
            "engines-dev",
            serde_json::json!({"dependencies": one(&["engines-dev-optional"])}),
        ),
        package(
            "engines-optional-host",
            serde_json::json!({"dependencies": one(&["engines-dev-optional"])}),
        ),
        package("engines-dev-optional", serde_json::json!({"os": ["plan9"]})),
    ];
    let verdaccio = Verdaccio::start(&verdaccio_bin, &dir.path().join("verdaccio"));
    publish(
        &verdaccio.url,
        &verdaccio.token,
        &packages.iter().collect::<Vec<_>>(),
    );
    fs_err::write(home.join(".npmrc"), verdaccio.npmrc()).unwrap();
    let cache = dir.path().join("npm-cache");
    let locked = |name: &str, manifest: serde_json::Value, args: &[&str]| {
        let project = dir.path().join(name);
        fs_err::create_dir_all(&project).unwrap();
        fs_err::write(project.join("package.json"), manifest.to_string()).unwrap();
        support::run_ok(
            npm_command(&npm, &home, &project, &cache)
                .args(["install", "--package-lock-only", "--ignore-scripts"])
                .args(args),
        );
        let lock: serde_json::Value = serde_json::from_str(
            &fs_err::read_to_string(project.join("package-lock.json")).unwrap(),
        )
        .unwrap();
        (project, lock)
    };
    let lading_install = |project: &Path, args: &[&str]| {
        support::run(
            lading(&home, project)
                .args(["restore", "--install", "--ignore-scripts", "--registry-url"])
                .arg(&verdaccio.url)
                .args(["--token-env", "REGISTRY_TOKEN"])
                .args(args)
                .env("REGISTRY_TOKEN", &verdaccio.token),
        )
    };

    // A `devOptional` package for another platform: npm checks platforms while it locks
    // too, so lock with it omitted.
    let omit = ["--omit", "dev", "--omit", "optional"];
    let (project, lock) = locked(
        "platform",
        serde_json::json!({
            "name": "platform-app", "version": "1.0.0", "private": true,
            "dependencies": one(&["engines-prod"]),
            "devDependencies": one(&["engines-dev"]),
            "optionalDependencies": one(&["engines-optional-host"]),
        }),
        &omit,
    );
    assert_eq!(
        lock["packages"]["node_modules/engines-dev-optional"]["devOptional"],
        true
    );
    // Omitting only dev, npm refuses it, and so does lading, naming it.
    let by_npm = copy_project(&project, &dir.path().join("platform-by-npm"));
    let refused = support::run(npm_command(&npm, &home, &by_npm, &cache).args([
        "ci",
        "--ignore-scripts",
        "--omit",
        "dev",
    ]));
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("EBADPLATFORM"),
        "{}",
        support::describe(&refused)
    );
    let by_lading = copy_project(&project, &dir.path().join("platform-by-lading"));
    let refused = lading_install(&by_lading, &["--omit", "dev"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`node_modules/engines-dev-optional` is for another platform"),
        "{stderr}"
    );
    // With dev and optional omitted, npm never checks it.
    support::run_ok(
        npm_command(&npm, &home, &by_npm, &cache)
            .args(["ci", "--ignore-scripts"])
            .args(omit),
    );
    let mut args = vec!["--ignore-scripts"];
    args.extend(omit);
    install(&home, &by_lading, &verdaccio.url, &verdaccio.token, &args);
    assert_same_tree(
        &tree(&by_npm.join("node_modules")),
        &by_npm,
        &by_lading,
        "--omit dev --omit optional",
    );

    let (project, lock) = locked(
        "engines",
        serde_json::json!({
            "name": "engines-app", "version": "1.0.0", "private": true,
            "dependencies": one(&["engines-prod", "engines-required-old"]),
            "optionalDependencies": one(&[
                "engines-old-node", "engines-old-npm", "engines-invalid", "engines-fine",
            ]),
        }),
        &[],
    );
    assert_eq!(
        lock["packages"]["node_modules/engines-old-node-dep"]["optional"],
        true
    );
    let by_npm = copy_project(&project, &dir.path().join("by-npm"));
    let by_lading = copy_project(&project, &dir.path().join("by-lading"));

    // The optional packages whose engines exclude this node or npm are left out with what
    // only they need; the required one stays, with a warning.
    let output =
        support::run_ok(npm_command(&npm, &home, &by_npm, &cache).args(["ci", "--ignore-scripts"]));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("EBADENGINE"),
        "{}",
        support::describe(&output)
    );
    let npm_tree = tree(&by_npm.join("node_modules"));
    for gone in [
        "engines-old-node",
        "engines-old-node-dep",
        "engines-old-npm",
        "engines-invalid",
    ] {
        assert!(!by_npm.join("node_modules").join(gone).exists(), "{gone}");
    }
    for kept in ["engines-fine", "engines-shared", "engines-required-old"] {
        assert!(by_npm.join("node_modules").join(kept).exists(), "{kept}");
    }
    let output = install(
        &home,
        &by_lading,
        &verdaccio.url,
        &verdaccio.token,
        &["--ignore-scripts"],
    );
    assert_same_tree(&npm_tree, &by_npm, &by_lading, "engines");
    // The tarballs were unpacked from their verified temp files and not kept as blobs
    // (nothing fsynced or moved into the blob store for bytes read once), and no temp file
    // is left behind.
    let store = home.join("lading-cache/store-v1");
    for dir in ["sha512", "tmp"] {
        let left: Vec<_> = walk_files(&store.join(dir));
        assert!(left.is_empty(), "{dir}: {left:?}");
    }
    assert!(
        fs_err::read_dir(home.join("lading-cache/npm-unpacked-v1"))
            .unwrap()
            .count()
            >= 4
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`node_modules/engines-required-old`: unsupported engine (EBADENGINE), engines want node <0.0.1"),
        "{stderr}"
    );

    // `engine-strict`: both refuse the required package.
    let strict = |command: &mut std::process::Command| {
        let output = support::run(command.env("npm_config_engine_strict", "true"));
        assert!(!output.status.success(), "{}", support::describe(&output));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(
        strict(npm_command(&npm, &home, &by_npm, &cache).args([
            "ci",
            "--offline",
            "--ignore-scripts"
        ]))
        .contains("EBADENGINE")
    );
    let stderr = strict(
        lading(&home, &by_lading)
            .args(["restore", "--install", "--ignore-scripts", "--registry-url"])
            .arg(&verdaccio.url)
            .args(["--token-env", "REGISTRY_TOKEN"])
            .env("REGISTRY_TOKEN", &verdaccio.token),
    );
    assert!(
        stderr.contains("`node_modules/engines-required-old`: unsupported engine"),
        "{stderr}"
    );
    // Refused before it touched the tree the previous install wrote, as npm refuses.
    assert_same_tree(&npm_tree, &by_npm, &by_lading, "after engine-strict");
}

/// Every file under `dir` (none when it does not exist).
fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}
