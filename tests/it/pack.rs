//! `lading pack` and `lading verify` against real consumers: `sha256sum -c`, `unzip -t`,
//! `tar -tzf`, npm (install of the tarball, `npm pack --dry-run` file list), nuget.exe
//! (install from a folder feed), mvn (a consumer compiles against the jar + pom), pip (a
//! wheel passed through), Python `cryptography` and `in-toto-attestation` (a second DSSE
//! implementation and the in-toto/SLSA protobuf schema).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;

use crate::require_tool;
use crate::support;

const ED25519_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILdENjzI6vzhd4QeEVCfQ4iX8O0aQCIYSp06wElGIT5v\n-----END PRIVATE KEY-----\n";

fn lading(home: &Path, dir: &Path) -> Command {
    let mut command = support::clean_command(support::lading_bin(), home);
    command.current_dir(dir);
    command
}

fn tool(name: &str) -> Option<PathBuf> {
    support::find_tool(
        &format!("LADING_TEST_{}", name.to_ascii_uppercase()),
        None,
        Some(name),
    )
}

fn write(path: &Path, text: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn generic_tree(root: &Path) {
    write(&root.join("dist/app.js"), "console.log('app')\n");
    write(&root.join("dist/app.js.map"), "{}\n");
    write(&root.join("dist/lib/util.js"), "module.exports = 1\n");
    write(&root.join("dist/bin/run"), "#!/bin/sh\necho run\n");
    write(&root.join("src/app.ts"), "let x = 1\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(
            root.join("dist/bin/run"),
            std::fs::Permissions::from_mode(0o775),
        )
        .unwrap();
    }
}

fn pack_generic(home: &Path, root: &Path, format: &str) -> Output {
    support::run_ok(
        lading(home, root)
            .args([
                "pack",
                "--format",
                format,
                "--name",
                "app",
                "--version",
                "1.4.0",
            ])
            .args(["dist/**", "!**/*.map", "--out", "out"]),
    )
}

#[test]
fn generic_archives_are_byte_identical_across_directories_and_times_and_accepted_by_unix_tools() {
    let sha256sum = require_tool!(tool("sha256sum"));
    let unzip = require_tool!(tool("unzip"));
    let tar = require_tool!(tool("tar"));
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let first = temp.path().join("first");
    let second = temp.path().join("elsewhere/second");
    generic_tree(&first);
    // The second tree is written later, with other mtimes and a different umask-derived mode.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    generic_tree(&second);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(
            second.join("dist/app.js"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    for format in ["zip", "tar.gz"] {
        pack_generic(&home, &first, format);
        pack_generic(&home, &second, format);
        let file = format!("app-1.4.0.{format}");
        let one = fs_err::read(first.join("out").join(&file)).unwrap();
        let two = fs_err::read(second.join("out").join(&file)).unwrap();
        assert!(one == two, "{file} differs between the two directories");
        support::run_ok(
            Command::new(&sha256sum)
                .current_dir(first.join("out"))
                .args(["-c", "SHA256SUMS"]),
        );
    }
    let out = first.join("out");
    let listing = support::run_ok(
        Command::new(&unzip)
            .arg("-t")
            .arg(out.join("app-1.4.0.zip")),
    );
    assert!(String::from_utf8_lossy(&listing.stdout).contains("No errors detected"));
    let listing = support::run_ok(
        Command::new(&tar)
            .arg("-tvzf")
            .arg(out.join("app-1.4.0.tar.gz")),
    );
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let entries: Vec<(String, String, String)> = listing
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (
                fields[0].to_owned(),
                fields[1].to_owned(),
                fields[fields.len() - 1].to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("-rw-r--r--", "0/0", "dist/app.js"),
        ("-rwxr-xr-x", "0/0", "dist/bin/run"),
        ("-rw-r--r--", "0/0", "dist/lib/util.js"),
    ]
    .iter()
    .map(|(mode, owner, name)| ((*mode).to_owned(), (*owner).to_owned(), (*name).to_owned()))
    .collect();
    assert_eq!(entries, expected, "{listing}");
    assert!(
        !listing.contains(".map") && !listing.contains("src/"),
        "{listing}"
    );
    assert_eq!(
        files_in(&out),
        [
            "SHA256SUMS",
            "app-1.4.0.intoto.jsonl",
            "app-1.4.0.manifest.json",
            "app-1.4.0.tar.gz",
            "app-1.4.0.zip"
        ]
    );
}

/// A second implementation of the DSSE check (Python `cryptography` over the PAE) and the
/// in-toto Statement + SLSA Provenance v1 schema (the `in-toto-attestation` protobufs,
/// which refuse unknown fields).
const PYTHON_CHECK: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2

envelope = json.loads(open(sys.argv[1]).readline())
payload = base64.b64decode(envelope["payload"])
payload_type = envelope["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)
key = load_pem_private_key(open(sys.argv[2], "rb").read(), None).public_key()
signature = base64.b64decode(envelope["signatures"][0]["sig"])
if isinstance(key, ed25519.Ed25519PublicKey):
    key.verify(signature, pae)
else:
    key.verify(signature, pae, ec.ECDSA(hashes.SHA256()))
statement = json_format.Parse(payload, statement_pb2.Statement())
Statement.copy_from_pb(statement).validate()
assert statement.predicate_type == "https://slsa.dev/provenance/v1", statement.predicate_type
provenance = json_format.ParseDict(json.loads(payload)["predicate"], provenance_pb2.Provenance())
assert provenance.build_definition.build_type, "buildType"
assert provenance.run_details.builder.id, "builder.id"
print(json.dumps({"subjects": [s.name for s in statement.subject],
                  "dependencies": [d.uri for d in provenance.build_definition.resolved_dependencies],
                  "builder": provenance.run_details.builder.id}))
"#;

fn python_check(python: &Path, home: &Path, envelope: &Path, key: &Path) -> serde_json::Value {
    let output = support::run_ok(
        support::clean_command(python, home)
            .arg("-c")
            .arg(PYTHON_CHECK)
            .arg(envelope)
            .arg(key),
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn provenance_signatures_verify_in_python_and_tampering_fails_lading_verify() {
    let python = require_tool!(support::python());
    let openssl = require_tool!(tool("openssl"));
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let root = temp.path().join("project");
    generic_tree(&root);
    let ed25519 = temp.path().join("ed25519.pem");
    fs_err::write(&ed25519, ED25519_KEY).unwrap();
    let p256 = temp.path().join("p256.pem");
    support::run_ok(
        Command::new(&openssl)
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(&p256),
    );
    for (label, key) in [("ed25519", &ed25519), ("p256", &p256)] {
        let out = temp.path().join(format!("out-{label}"));
        let public = temp.path().join(format!("{label}.pub"));
        support::run_ok(
            Command::new(&openssl)
                .args(["pkey", "-pubout", "-in"])
                .arg(key)
                .arg("-out")
                .arg(&public),
        );
        support::run_ok(
            lading(&home, &root)
                .args([
                    "pack",
                    "--format",
                    "zip",
                    "--name",
                    "app",
                    "--version",
                    "2.0.0",
                    "dist",
                    "--out",
                ])
                .arg(&out)
                .arg("--signing-key")
                .arg(key),
        );
        let envelope = out.join("app-2.0.0.intoto.jsonl");
        let checked = python_check(&python, &home, &envelope, key);
        assert_eq!(
            checked["subjects"],
            serde_json::json!(["pkg:generic/app@2.0.0"])
        );
        assert_eq!(checked["builder"], "https://lading.dev/builders/local");
        let verify = || {
            support::run(
                lading(&home, &root)
                    .arg("verify")
                    .arg(&out)
                    .arg("--public-key")
                    .arg(&public),
            )
        };
        let output = verify();
        assert!(output.status.success(), "{}", support::describe(&output));

        // One byte changed in the package: SHA256SUMS no longer matches.
        let package = out.join("app-2.0.0.zip");
        let original = fs_err::read(&package).unwrap();
        let mut changed = original.clone();
        changed[10] ^= 1;
        fs_err::write(&package, &changed).unwrap();
        let output = verify();
        support::assert_exit_with(&output, 1, "app-2.0.0.zip");
        fs_err::write(&package, &original).unwrap();

        // One byte changed in the envelope's signature or payload: the signature fails.
        let text = fs_err::read_to_string(&envelope).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let signature = value["signatures"][0]["sig"].as_str().unwrap().to_owned();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        value["signatures"][0]["sig"] = format!("{flipped}{}", &signature[1..]).into();
        fs_err::write(&envelope, format!("{value}\n")).unwrap();
        let output = verify();
        support::assert_exit_with(&output, 1, "signature");
        let payload_index = text.find("\"payload\":\"").unwrap() + 20;
        let mut bytes = text.into_bytes();
        bytes[payload_index] = if bytes[payload_index] == b'A' {
            b'B'
        } else {
            b'A'
        };
        fs_err::write(&envelope, &bytes).unwrap();
        let output = verify();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            support::describe(&output)
        );
    }
}

/// (label, environment, builder.id, invocationId, source uri)
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str, &'a str);

#[test]
fn ci_environment_gives_the_run_identity_in_provenance() {
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let root = temp.path().join("project");
    generic_tree(&root);
    let sha = "89abcdef0123456789abcdef0123456789abcdef";
    let cases: [Case<'_>; 3] = [
        (
            "github",
            vec![
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_SERVER_URL", "https://github.com"),
                ("GITHUB_REPOSITORY", "acme/app"),
                ("GITHUB_RUN_ID", "987"),
                ("GITHUB_RUN_ATTEMPT", "1"),
                ("GITHUB_SHA", sha),
                ("GITHUB_REF", "refs/tags/v3.1.0"),
                ("GITHUB_REF_NAME", "v3.1.0"),
                (
                    "GITHUB_WORKFLOW_REF",
                    "acme/app/.github/workflows/release.yml@refs/tags/v3.1.0",
                ),
                ("RUNNER_ENVIRONMENT", "github-hosted"),
            ],
            "https://github.com/actions/runner/github-hosted",
            "https://github.com/acme/app/actions/runs/987/attempts/1",
            "git+https://github.com/acme/app@refs/tags/v3.1.0",
        ),
        (
            "codebuild",
            vec![
                (
                    "CODEBUILD_BUILD_ARN",
                    "arn:aws:codebuild:us-east-1:111122223333:build/app-release:0f0f0f0f-1111-2222-3333-444455556666",
                ),
                ("CODEBUILD_RESOLVED_SOURCE_VERSION", sha),
                ("CODEBUILD_SOURCE_VERSION", "refs/tags/v3.1.0"),
                (
                    "CODEBUILD_SOURCE_REPO_URL",
                    "https://github.com/acme/app.git",
                ),
            ],
            "arn:aws:codebuild:us-east-1:111122223333:project/app-release",
            "arn:aws:codebuild:us-east-1:111122223333:build/app-release:0f0f0f0f-1111-2222-3333-444455556666",
            "git+https://github.com/acme/app.git@refs/tags/v3.1.0",
        ),
        (
            "jenkins",
            vec![
                ("JENKINS_URL", "https://jenkins.acme.example/"),
                ("BUILD_ID", "55"),
                ("BUILD_NUMBER", "55"),
                ("BUILD_URL", "https://jenkins.acme.example/job/app/55/"),
                ("JOB_NAME", "app"),
                ("GIT_COMMIT", sha),
                ("GIT_URL", "https://github.com/acme/app.git"),
                ("GIT_BRANCH", "origin/v3.1.0"),
            ],
            "https://jenkins.acme.example/",
            "https://jenkins.acme.example/job/app/55/",
            "git+https://github.com/acme/app.git@origin/v3.1.0",
        ),
    ];
    for (label, env, builder, invocation, source_uri) in cases {
        let out = temp.path().join(format!("out-{label}"));
        let mut command = lading(&home, &root);
        command.envs(env.iter().copied());
        // The version comes from the CI's ref: `v3.1.0` → `3.1.0`.
        support::run_ok(
            command
                .args(["pack", "--format", "tar.gz", "--name", "app"])
                .args([
                    "--version",
                    "{{ ci.ref_name | replace('origin/', '') | replace('v', '') }}",
                ])
                .args(["dist", "--out"])
                .arg(&out),
        );
        let line = fs_err::read_to_string(out.join("app-3.1.0.intoto.jsonl")).unwrap();
        let envelope: serde_json::Value = serde_json::from_str(&line).unwrap();
        let payload = base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap();
        let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let predicate = &statement["predicate"];
        assert_eq!(predicate["runDetails"]["builder"]["id"], builder, "{label}");
        assert_eq!(
            predicate["runDetails"]["metadata"]["invocationId"], invocation,
            "{label}"
        );
        let source = &predicate["buildDefinition"]["resolvedDependencies"][0];
        assert_eq!(source["uri"], source_uri, "{label}");
        assert_eq!(source["digest"]["gitCommit"], sha, "{label}");
    }
}

#[test]
fn bad_input_fails_clearly_and_leaves_no_outputs() {
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let root = temp.path().join("project");
    generic_tree(&root);
    let outside = temp.path().join("outside.txt");
    fs_err::write(&outside, "secret").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, root.join("dist/leak.js")).unwrap();
    write(
        &root.join("nuget/Acme.Tool.nuspec"),
        "<?xml version=\"1.0\"?><package><metadata><id>Acme.Tool</id><version>1.0.0</version><authors>a</authors><description>d</description></metadata></package>",
    );
    write(&root.join("nuget/lib/net8.0/a.dll"), "MZ");
    write(&root.join("npm/package.json"), "{\"name\": \"acme-x\"}\n");
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--format",
                "zip",
                "--name",
                "a",
                "--version",
                "1.0.0",
                "../outside.txt",
            ],
            "reaches outside the base directory",
        ),
        (
            &[
                "--format",
                "zip",
                "--name",
                "a",
                "--version",
                "1.0.0",
                "dist/*.js",
            ],
            "is a symlink to",
        ),
        (
            &[
                "--format",
                "nuget",
                "--name",
                "Acme.Other",
                "--base",
                "nuget",
            ],
            "declares package id `Acme.Tool`, but `Acme.Other` was asked for",
        ),
        (&["--format", "npm", "--base", "npm"], "has no `version`"),
        (
            &[
                "--format",
                "tar.gz",
                "--name",
                "a",
                "--version",
                "1.0.0",
                "nothing/**",
            ],
            "no file under",
        ),
    ];
    for (args, message) in cases {
        let out = temp.path().join("out");
        let output = support::run(
            lading(&home, &root)
                .arg("pack")
                .args(args)
                .arg("--out")
                .arg(&out),
        );
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            support::describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("secret"));
        assert!(
            !out.exists() || files_in(&out).is_empty(),
            "{args:?} left {:?}",
            files_in(&out)
        );
    }
}

#[test]
fn npm_tarball_lists_what_npm_pack_lists_and_installs() {
    let npm = require_tool!(support::npm());
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let package = temp.path().join("pkg");
    write(
        &package.join("package.json"),
        "{\n  \"name\": \"@acme/greet\",\n  \"version\": \"0.0.0-dev\",\n  \"main\": \"lib/index.js\",\n  \"bin\": {\"greet\": \"bin/greet.js\"},\n  \"files\": [\"lib\", \"types/*.d.ts\"]\n}\n",
    );
    write(
        &package.join("lib/index.js"),
        "module.exports = () => 'hello from lading';\n",
    );
    write(&package.join("lib/index.js.map"), "{}\n");
    write(&package.join("lib/.npmignore"), "");
    write(&package.join("types/index.d.ts"), "export {};\n");
    write(
        &package.join("bin/greet.js"),
        "#!/usr/bin/env node\nconsole.log(require('../lib')());\n",
    );
    write(&package.join("README.md"), "# greet\n");
    write(&package.join("LICENSE"), "MIT\n");
    write(&package.join("src/index.ts"), "export {}\n");
    write(&package.join("CHANGELOG.md"), "changes\n");
    write(&package.join(".npmrc"), "registry=http://127.0.0.1:9/\n");
    write(
        &package.join("package-lock.json"),
        r#"{"name":"@acme/greet","version":"0.0.0-dev","lockfileVersion":3,"requires":true,"packages":{"":{"name":"@acme/greet","version":"0.0.0-dev"},"node_modules/left-pad":{"version":"1.3.0","resolved":"https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz","integrity":"sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQ9FBX+8PjbTk+Ukl3+dbuDZoJUtwp9Gv5tTQ+1IVVlrfc2A=="}}}"#,
    );
    write(
        &package.join("node_modules/left-pad/index.js"),
        "module.exports = 1\n",
    );

    let out = temp.path().join("out");
    support::run_ok(
        lading(&home, &package)
            .args(["pack", "--format", "npm", "--version", "1.2.3", "--out"])
            .arg(&out),
    );
    let tarball = out.join("acme-greet-1.2.3.tgz");
    let mut ours: Vec<String> = {
        let bytes = fs_err::read(&tarball).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        archive
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .map(|path| path.strip_prefix("package/").unwrap().to_owned())
            .collect()
    };
    ours.sort();
    let dry_run = support::run_ok(
        support::clean_command(&npm, &home)
            .current_dir(&package)
            .args(["pack", "--dry-run", "--json", "--ignore-scripts"]),
    );
    let listed: serde_json::Value = serde_json::from_slice(&dry_run.stdout).unwrap();
    let mut theirs: Vec<String> = listed[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap().to_owned())
        .collect();
    theirs.sort();
    assert_eq!(ours, theirs);

    // The packed manifest carries the version given on the command line.
    let consumer = temp.path().join("consumer");
    write(
        &consumer.join("package.json"),
        "{\"name\":\"consumer\",\"version\":\"1.0.0\",\"private\":true}\n",
    );
    support::run_ok(
        support::clean_command(&npm, &home)
            .current_dir(&consumer)
            .args(["install", "--no-audit", "--no-fund", "--offline"])
            .arg(&tarball),
    );
    let installed: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(consumer.join("node_modules/@acme/greet/package.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(installed["version"], "1.2.3");
    let node = support::run_ok(
        support::clean_command("node", &home)
            .current_dir(&consumer)
            .args(["-e", "process.stdout.write(require('@acme/greet')())"]),
    );
    assert_eq!(String::from_utf8_lossy(&node.stdout), "hello from lading");

    // The lockfile's dependency is in the provenance, and `verify --lockfile` agrees.
    let line = fs_err::read_to_string(out.join("acme-greet-1.2.3.intoto.jsonl")).unwrap();
    assert!(line.contains("payload"));
    support::run_ok(
        lading(&home, &package)
            .arg("verify")
            .arg(&out)
            .arg("--lockfile")
            .arg(package.join("package-lock.json")),
    );
    let other_lock = temp.path().join("other/package-lock.json");
    write(
        &other_lock,
        r#"{"lockfileVersion":3,"packages":{"node_modules/left-pad":{"version":"1.2.0","integrity":"sha512-AAAA"}}}"#,
    );
    let output = support::run(
        lading(&home, &package)
            .arg("verify")
            .arg(&out)
            .arg("--lockfile")
            .arg(&other_lock),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("pkg:npm/left-pad@1.2.0"));
}

fn nuget_exe() -> Option<PathBuf> {
    support::find_tool(
        "LADING_TEST_NUGET_EXE",
        Some("node/node_modules/nuget-exe/nuget-5.8.0.exe"),
        None,
    )
}

#[test]
fn nuget_exe_installs_the_nupkg_from_a_folder_feed() {
    let mono = require_tool!(support::find_tool("LADING_TEST_MONO", None, Some("mono")));
    let nuget = require_tool!(nuget_exe());
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let root = temp.path().join("project");
    write(
        &root.join("Acme.Packed.nuspec"),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n  <metadata>\n    <id>Acme.Packed</id>\n    <version>0.0.0</version>\n    <authors>Acme</authors>\n    <description>Packed by lading</description>\n  </metadata>\n</package>\n",
    );
    write(
        &root.join("lib/netstandard2.0/Acme.Packed.txt"),
        "payload\n",
    );
    write(&root.join("content/readme.txt"), "hello\n");
    let feed = temp.path().join("feed");
    support::run_ok(
        lading(&home, &root)
            .args([
                "pack",
                "--format",
                "nuget",
                "--name",
                "Acme.Packed",
                "--version",
                "1.2.3",
            ])
            .args(["lib", "content", "--out"])
            .arg(&feed),
    );
    assert!(
        feed.join("Acme.Packed.1.2.3.nupkg").is_file(),
        "{:?}",
        files_in(&feed)
    );
    let installed = temp.path().join("packages");
    let output = support::run_ok(
        support::clean_command(&mono, &home)
            .current_dir(temp.path())
            .arg(&nuget)
            .args(["install", "Acme.Packed", "-Version", "1.2.3", "-Source"])
            .arg(&feed)
            .arg("-OutputDirectory")
            .arg(&installed)
            .arg("-NonInteractive"),
    );
    let package_dir = installed.join("Acme.Packed.1.2.3");
    assert_eq!(
        fs_err::read_to_string(package_dir.join("lib/netstandard2.0/Acme.Packed.txt")).unwrap(),
        "payload\n",
        "{}",
        support::describe(&output)
    );
    assert!(package_dir.join("Acme.Packed.1.2.3.nupkg").is_file());
}

#[test]
fn mvn_compiles_a_consumer_against_the_packed_jar_and_pom() {
    let mvn = require_tool!(support::find_tool("LADING_TEST_MVN", None, Some("mvn")));
    let javac = require_tool!(tool("javac"));
    let java = require_tool!(tool("java"));
    let maven_repo = require_tool!(support::find_tool("LADING_TEST_MAVEN_REPO", None, None));
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let sources = temp.path().join("src");
    write(
        &sources.join("com/acme/Greeter.java"),
        "package com.acme;\npublic final class Greeter { public static String greet() { return \"packed by lading\"; } }\n",
    );
    let classes = temp.path().join("classes");
    support::run_ok(
        Command::new(&javac)
            .args(["--release", "17", "-d"])
            .arg(&classes)
            .arg(sources.join("com/acme/Greeter.java")),
    );
    let out = temp.path().join("out");
    support::run_ok(
        lading(&home, temp.path())
            .args([
                "pack",
                "--format",
                "maven",
                "--name",
                "com.acme:greeter",
                "--version",
                "1.0.0",
            ])
            .arg("--base")
            .arg(&classes)
            .arg("--sources")
            .arg(&sources)
            .arg("--out")
            .arg(&out),
    );
    assert_eq!(
        files_in(&out),
        [
            "SHA256SUMS",
            "greeter-1.0.0-sources.jar",
            "greeter-1.0.0.intoto.jsonl",
            "greeter-1.0.0.jar",
            "greeter-1.0.0.manifest.json",
            "greeter-1.0.0.pom"
        ]
    );
    // A file:// repository in Maven layout holding what lading packed.
    let repository = temp.path().join("repository");
    let version_dir = repository.join("com/acme/greeter/1.0.0");
    fs_err::create_dir_all(&version_dir).unwrap();
    for file in [
        "greeter-1.0.0.jar",
        "greeter-1.0.0.pom",
        "greeter-1.0.0-sources.jar",
    ] {
        fs_err::copy(out.join(file), version_dir.join(file)).unwrap();
    }
    let central = format!("file://{}", maven_repo.display());
    let packed = format!("file://{}", repository.display());
    let settings = temp.path().join("settings.xml");
    fs_err::write(
        &settings,
        format!(
            "<settings><profiles><profile><id>local</id>
  <repositories>
    <repository><id>central</id><url>{central}</url><releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></repository>
    <repository><id>packed</id><url>{packed}</url><releases><checksumPolicy>ignore</checksumPolicy></releases></repository>
  </repositories>
  <pluginRepositories><pluginRepository><id>central</id><url>{central}</url><releases><checksumPolicy>ignore</checksumPolicy></releases></pluginRepository></pluginRepositories>
</profile></profiles><activeProfiles><activeProfile>local</activeProfile></activeProfiles></settings>
"
        ),
    )
    .unwrap();
    let consumer = temp.path().join("consumer");
    write(
        &consumer.join("pom.xml"),
        "<project xmlns='http://maven.apache.org/POM/4.0.0'><modelVersion>4.0.0</modelVersion>
  <groupId>com.acme.apps</groupId><artifactId>app</artifactId><version>1.0</version>
  <properties><maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <dependencies><dependency><groupId>com.acme</groupId><artifactId>greeter</artifactId><version>1.0.0</version></dependency></dependencies>
</project>
",
    );
    write(
        &consumer.join("src/main/java/app/Main.java"),
        "package app;\npublic class Main { public static void main(String[] args) { System.out.print(com.acme.Greeter.greet()); } }\n",
    );
    let local = temp.path().join("m2");
    support::run_ok(
        support::clean_command(&mvn, &home)
            .current_dir(&consumer)
            .args(["-B", "-q", "-s"])
            .arg(&settings)
            .arg(format!("-Dmaven.repo.local={}", local.display()))
            .arg("compile")
            .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"),
    );
    let resolved = local.join("com/acme/greeter/1.0.0/greeter-1.0.0.jar");
    assert_eq!(
        fs_err::read(&resolved).unwrap(),
        fs_err::read(out.join("greeter-1.0.0.jar")).unwrap()
    );
    let classpath = format!(
        "{}:{}",
        consumer.join("target/classes").display(),
        resolved.display()
    );
    let run = support::run_ok(Command::new(&java).args(["-cp", &classpath, "app.Main"]));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "packed by lading");
}

#[test]
fn pip_installs_a_wheel_passed_through_and_mismatched_metadata_is_refused() {
    let python = require_tool!(support::python());
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let dist = temp.path().join("dist");
    fs_err::create_dir_all(&dist).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypi_wheel.py");
    let output = support::run_ok(
        support::clean_command(&python, &home)
            .arg(&script)
            .arg(&dist)
            .args(["lading-packed", "1.0.0", ">=3.8", "lading_packed", "passed"]),
    );
    let wheel = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let out = temp.path().join("out");
    support::run_ok(
        lading(&home, temp.path())
            .args(["pack", "--format", "pypi", "--version", "1.0.0", "--base"])
            .arg(&dist)
            .arg("--out")
            .arg(&out),
    );
    let passed = out.join(wheel.file_name().unwrap());
    assert_eq!(
        fs_err::read(&passed).unwrap(),
        fs_err::read(&wheel).unwrap()
    );
    let venv = temp.path().join("venv");
    support::run_ok(
        support::clean_command(&python, &home)
            .args(["-m", "venv"])
            .arg(&venv),
    );
    support::run_ok(
        support::clean_command(venv.join("bin/python"), &home)
            .args([
                "-m",
                "pip",
                "install",
                "--no-index",
                "--disable-pip-version-check",
            ])
            .arg(&passed),
    );
    let imported = support::run_ok(
        support::clean_command(venv.join("bin/python"), &home).args([
            "-c",
            "import lading_packed, sys; sys.stdout.write(lading_packed.VALUE)",
        ]),
    );
    assert_eq!(String::from_utf8_lossy(&imported.stdout), "passed");

    // The same wheel under another version's file name: refused, nothing written.
    let bad_dist = temp.path().join("bad");
    fs_err::create_dir_all(&bad_dist).unwrap();
    let renamed = wheel
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace("1.0.0", "9.9.9");
    fs_err::copy(&wheel, bad_dist.join(&renamed)).unwrap();
    let bad_out = temp.path().join("bad-out");
    let output = support::run(
        lading(&home, temp.path())
            .args(["pack", "--format", "pypi", "--base"])
            .arg(&bad_dist)
            .arg("--out")
            .arg(&bad_out),
    );
    support::assert_exit_with(&output, 1, "its metadata says");
    assert!(!bad_out.exists() || files_in(&bad_out).is_empty());
}

/// A tree bigger than the compressing threads' look-ahead window and an archive bigger than
/// the threshold for hashing on several threads: the zip is the same on every run, Python's
/// `zipfile` and `unzip -t` accept it, and the manifest's sha256 and sha512 are the file's.
#[test]
fn generic_zip_of_many_files_is_reproducible_and_its_digests_match() {
    let unzip = require_tool!(tool("unzip"));
    let python = require_tool!(support::python());
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let root = temp.path().join("project");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = vec![0_u8; 5 << 20];
    for byte in &mut noise {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state.to_le_bytes()[0];
    }
    fs_err::create_dir_all(root.join("dist/media")).unwrap();
    fs_err::write(root.join("dist/media/big.bin"), &noise).unwrap();
    for index in 0..700 {
        write(
            &root.join(format!("dist/js/m{:02}/chunk{index:04}.js", index % 13)),
            &format!("export const value{index} = {index};\n").repeat(index % 40 + 1),
        );
    }
    let pack = |out: &str| {
        support::run_ok(
            lading(&home, &root)
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args([
                    "pack",
                    "--format",
                    "zip",
                    "--name",
                    "app",
                    "--version",
                    "2.0.0",
                ])
                .args(["dist/**", "--out", out]),
        );
        root.join(out)
    };
    let first = pack("one");
    let second = pack("two");
    let zip = fs_err::read(first.join("app-2.0.0.zip")).unwrap();
    assert!(zip == fs_err::read(second.join("app-2.0.0.zip")).unwrap());
    let listing = support::run_ok(
        Command::new(&unzip)
            .arg("-t")
            .arg(first.join("app-2.0.0.zip")),
    );
    assert!(String::from_utf8_lossy(&listing.stdout).contains("No errors detected"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs_err::read(first.join("app-2.0.0.manifest.json")).unwrap())
            .unwrap();
    let check = support::run_ok(
        support::clean_command(&python, &home)
            .args([
                "-c",
                "import hashlib, sys, zipfile\n\
                 data = open(sys.argv[1], 'rb').read()\n\
                 archive = zipfile.ZipFile(sys.argv[1])\n\
                 assert archive.testzip() is None\n\
                 print(len(archive.namelist()), hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest())",
            ])
            .arg(first.join("app-2.0.0.zip")),
    );
    let file = &manifest["files"][0];
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        format!(
            "701 {} {}",
            file["sha256"].as_str().unwrap(),
            file["sha512"].as_str().unwrap()
        )
    );
}
