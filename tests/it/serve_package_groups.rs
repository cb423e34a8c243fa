//! Package groups on `lading serve` (issue #18): the ten operations driven by boto3
//! (`tests/peers/package_groups.py`, which validates every response against botocore's
//! service model) and by the AWS CLI, and their origin restrictions applied where versions
//! enter a repository: a real `npm publish` refused by a group that blocks `PUBLISH`, a
//! real `npm install` refused a package a group keeps out of `EXTERNAL_UPSTREAM` (pulled
//! through `public:npmjs`, which answers from a mirror here, TESTBED.md).

use std::path::Path;

use crate::require_tool;
use crate::support::client::{npm_command, write_npmrc};
use crate::support::{self, LadingServer, ServerSpec};

/// `aws codeartifact ARGS` on domain `local`, as the admin: the parsed output.
fn aws(server: &LadingServer, home: &Path, args: &[&str]) -> serde_json::Value {
    let mut full = args.to_vec();
    full.extend(["--domain", "local"]);
    server.aws_json(home, &full)
}

#[test]
fn boto3_drives_every_package_group_operation_as_the_service_model_defines_it() {
    let python = require_tool!(support::python());
    let (dir, server) = support::serve(ServerSpec::default());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/package_groups.py");
    let mut command = support::clean_command(&python, dir.path());
    command
        .arg(&script)
        .arg("operations")
        .env("LADING_URL", &server.url)
        .envs(server.aws_env());
    let output = support::run(&mut command);
    assert!(
        output.status.success(),
        "{}\n--- server log\n{}",
        support::describe(&output),
        server.log()
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("checks passed"),
        "{}",
        support::describe(&output)
    );
}

/// A package directory for `name@version` under `root`.
fn npm_package(root: &Path, name: &str, version: &str) -> std::path::PathBuf {
    let directory = root.join(name.replace(['@', '/'], "_"));
    fs_err::create_dir_all(&directory).unwrap();
    fs_err::write(
        directory.join("package.json"),
        serde_json::json!({ "name": name, "version": version, "main": "index.js" }).to_string(),
    )
    .unwrap();
    fs_err::write(directory.join("index.js"), "module.exports = 1;\n").unwrap();
    directory
}

#[test]
fn npm_publish_into_a_group_that_blocks_publish_fails_naming_the_group() {
    require_tool!(support::aws());
    let npm = require_tool!(support::npm());
    let (dir, server) = support::serve(ServerSpec::default());
    let home = dir.path();
    let created = aws(
        &server,
        home,
        &[
            "create-package-group",
            "--package-group",
            "/npm/locked/*",
            "--description",
            "packages nobody publishes here",
        ],
    );
    assert_eq!(
        created["packageGroup"]["parent"]["pattern"], "/*",
        "{created}"
    );
    let updated = aws(
        &server,
        home,
        &[
            "update-package-group-origin-configuration",
            "--package-group",
            "/npm/locked/*",
            "--restrictions",
            "PUBLISH=BLOCK",
        ],
    );
    assert_eq!(
        updated["packageGroup"]["originConfiguration"]["restrictions"]["PUBLISH"]["mode"], "BLOCK",
        "{updated}"
    );
    let listed = aws(&server, home, &["list-package-groups"]);
    let patterns: Vec<&str> = listed["packageGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| group["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns, ["/*", "/npm/locked/*"], "{listed}");

    let registry = format!("{}/d/local/npm/main/", server.url);
    let npmrc = write_npmrc(home, &registry, &server.token());
    let publish = |name: &str| {
        let source = npm_package(home, name, "1.0.0");
        let mut command = npm_command(&npm, home, &npmrc);
        command
            .current_dir(&source)
            .args(["publish", "--no-audit", "--no-update-notifier"]);
        support::run(&mut command)
    };
    let refused = publish("@locked/widget");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && stderr.contains("package group `/npm/locked/*` blocks PUBLISH"),
        "{}",
        support::describe(&refused)
    );
    // Outside the group the root's ALLOW applies.
    let published = publish("@open/widget");
    assert!(
        published.status.success(),
        "{}",
        support::describe(&published)
    );

    // Allowed into `main` only: the same publish now goes through.
    aws(
        &server,
        home,
        &[
            "update-package-group-origin-configuration",
            "--package-group",
            "/npm/locked/*",
            "--restrictions",
            "PUBLISH=ALLOW_SPECIFIC_REPOSITORIES",
            "--add-allowed-repositories",
            "originRestrictionType=PUBLISH,repositoryName=main",
        ],
    );
    let allowed = publish("@locked/widget");
    assert!(allowed.status.success(), "{}", support::describe(&allowed));
}

#[test]
fn npm_install_cannot_pull_through_a_package_its_group_blocks_from_external_upstreams() {
    require_tool!(support::aws());
    let npm = require_tool!(support::npm());
    let (dir, server) = support::serve(ServerSpec::default());
    let home = dir.path();
    server.associate(home, "main", "public:npmjs");
    aws(
        &server,
        home,
        &["create-package-group", "--package-group", "/npm//left-pad$"],
    );
    aws(
        &server,
        home,
        &[
            "update-package-group-origin-configuration",
            "--package-group",
            "/npm//left-pad$",
            "--restrictions",
            "EXTERNAL_UPSTREAM=BLOCK",
        ],
    );
    let associated = aws(
        &server,
        home,
        &[
            "get-associated-package-group",
            "--format",
            "npm",
            "--package",
            "left-pad",
        ],
    );
    assert_eq!(associated["packageGroup"]["pattern"], "/npm//left-pad$");
    assert_eq!(associated["associationType"], "STRONG");

    let registry = format!("{}/d/local/npm/main/", server.url);
    let npmrc = write_npmrc(home, &registry, &server.token());
    let install = |package: &str| {
        let project = home.join(format!("project-{package}"));
        fs_err::create_dir_all(&project).unwrap();
        fs_err::write(
            project.join("package.json"),
            r#"{"name":"p","version":"1.0.0"}"#,
        )
        .unwrap();
        let mut command = npm_command(&npm, home, &npmrc);
        command.current_dir(&project).args([
            "install",
            package,
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
        ]);
        support::run(&mut command)
    };
    let refused = install("left-pad@1.3.0");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && stderr.contains("404")
            && stderr.contains("public:npmjs not consulted")
            && stderr.contains("package group `/npm//left-pad$` blocks EXTERNAL_UPSTREAM"),
        "{}",
        support::describe(&refused)
    );
    // Nothing was pulled in.
    let packages = server.aws_json_on(home, "main", &["list-packages"]);
    assert_eq!(packages["packages"], serde_json::json!([]), "{packages}");

    // A package outside the group still comes through.
    let installed = install("is-number@7.0.0");
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
}
