//! `lading pack` and `lading publish` for cargo and RubyGems against `lading serve`, read by
//! the real clients: cargo 1.95 builds a project from the crate lading published (the
//! lockfile's checksum is the index's `cksum`), and a crate published by `cargo publish`
//! and by lading gets the same index line; `gem install` and `bundle install` (Debian's
//! RubyGems 3.3 / bundler 2.3) install the gem lading pushed. A re-run is a no-op and other
//! bytes under a published version fail naming both digests.
//!
//! See: issue #18, "Data planes", cargo and ruby (`lading pack` / `lading publish`).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::login::codeartifact;
use crate::require_tool;
use crate::serve_cargo::{Cargo, assert_ok, cargo, fixture, index_lines, locked_checksum, project};
use crate::support::{self, LadingServer, ServerSpec, sha256_hex};

/// `lading ARGS` with the server's AWS credentials, a private cache and home, and the
/// environment `cargo` needs when lading runs it (`CARGO_HOME` of `cargo`, its token for
/// the `lading` registry, cargo's own directory first on `PATH`).
fn lading(
    root: &Path,
    server: &LadingServer,
    cargo: Option<(&Cargo, &str)>,
    args: &[&str],
) -> Output {
    let home = root.join("lading-home");
    fs_err::create_dir_all(&home).unwrap();
    let mut command = support::clean_command(support::lading_bin(), &home);
    command.current_dir(root).args(args);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    command.env("LADING_CACHE_DIR", root.join("lading-cache"));
    if let Some((cargo, token)) = cargo {
        let mut path = std::ffi::OsString::from(cargo.binary.parent().unwrap());
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        command
            .env("PATH", path)
            .env("CARGO_HOME", &cargo.home)
            .env("RUSTUP_HOME", &cargo.rustup_home)
            .env("CARGO_REGISTRIES_LADING_TOKEN", token)
            .env("CARGO_TERM_COLOR", "never");
    }
    support::run(&mut command)
}

/// `lading publish ARGS --json` to repository `repository` of `server` (CodeArtifact flags).
fn publish(root: &Path, server: &LadingServer, repository: &str, args: &[&str]) -> Output {
    let mut flags = codeartifact(server);
    let at = flags.iter().position(|flag| flag == "main").unwrap();
    repository.clone_into(&mut flags[at]);
    let mut full: Vec<&str> = vec!["publish", "--json"];
    full.extend_from_slice(args);
    full.extend(flags.iter().map(String::as_str));
    lading(root, server, None, &full)
}

/// Every file's `(file, outcome)` in a `--json` publish report.
fn outcomes(output: &Output) -> Vec<(String, String)> {
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", support::describe(output)));
    let mut found: Vec<(String, String)> = support::publish_report_files(&report)
        .into_iter()
        .map(|(file, outcome, _)| (file, outcome))
        .collect();
    found.sort();
    found
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `lading pack --format cargo --base DIR --out OUT` (cargo package run by lading).
fn pack_crate(
    root: &Path,
    server: &LadingServer,
    cargo: &Cargo,
    token: &str,
    dir: &Path,
    out: &Path,
) -> Output {
    lading(
        root,
        server,
        Some((cargo, token)),
        &[
            "pack",
            "--format",
            "cargo",
            "--base",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
}

#[test]
fn lading_packs_and_publishes_a_crate_that_cargo_builds_from_lading_serve() {
    let _ = require_tool!(cargo());
    let _ = require_tool!(crate::support::client::curl());
    let (dir, server) = support::serve(ServerSpec::default());
    let root = dir.path();
    let token = server.token();
    let cargo = Cargo::new(root, &server, "lading-publisher");

    // A dependency published by cargo itself, which the crate lading publishes renames.
    let q = fixture(
        root,
        "lading-pq",
        "0.1.0",
        "",
        "pub fn value() -> u32 { 40 }\n",
    );
    assert_ok(&cargo.publish(&q, Some(&token)));
    let crate_dir = fixture(
        root,
        "lading-pub-b",
        "0.3.0",
        "readme = \"README.md\"\n\n[dependencies]\nrenamed = { package = \"lading-pq\", version = \"0.1\", registry = \"lading\" }\n\n[features]\nplain = []\n",
        "pub fn answer() -> u32 { renamed::value() + 2 }\n",
    );
    fs_err::write(crate_dir.join("README.md"), "# lading-pub-b\n").unwrap();

    // An `--out` inside the crate holding an earlier run's files: cargo packages them, so
    // lading refuses the crate and writes nothing.
    fs_err::create_dir_all(crate_dir.join("out")).unwrap();
    fs_err::write(crate_dir.join("out/SHA256SUMS"), "earlier run\n").unwrap();
    let inside = pack_crate(
        root,
        &server,
        &cargo,
        &token,
        &crate_dir,
        &crate_dir.join("out"),
    );
    support::assert_exit_with(
        &inside,
        1,
        "put lading's output directory `out` into the crate",
    );
    assert_eq!(support::files_under(&crate_dir.join("out")).len(), 1);
    fs_err::remove_dir_all(crate_dir.join("out")).unwrap();

    let out = root.join("out-b");
    assert_ok(&pack_crate(root, &server, &cargo, &token, &crate_dir, &out));
    let packed = fs_err::read(out.join("lading-pub-b-0.3.0.crate")).unwrap();
    let cksum = sha256_hex(&packed);
    let manifest: Value = serde_json::from_slice(
        &fs_err::read(out.join("lading-pub-b-0.3.0.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["format"], "cargo", "{manifest:#}");
    assert_eq!(
        manifest["files"][0]["sha256"],
        cksum.as_str(),
        "{manifest:#}"
    );
    assert_eq!(manifest["files"][0]["purl"], "pkg:cargo/lading-pub-b@0.3.0");
    let sums = fs_err::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{cksum}  lading-pub-b-0.3.0.crate")),
        "{sums}"
    );
    assert!(out.join("lading-pub-b-0.3.0.intoto.jsonl").is_file());
    // The bytes `cargo package` writes: reproducible, so the same as cargo's own run.
    assert_ok(&cargo.run(
        &crate_dir,
        &token,
        &["package", "--no-verify", "--allow-dirty"],
    ));
    assert_eq!(
        sha256_hex(&fs_err::read(root.join("target/package/lading-pub-b-0.3.0.crate")).unwrap()),
        cksum
    );

    // Published (the provenance as a generic package beside it), then a no-op re-run.
    let first = publish(root, &server, "main", &[out.to_str().unwrap()]);
    assert_ok(&first);
    assert_eq!(
        outcomes(&first),
        [
            (
                "lading-pub-b-0.3.0.crate".to_owned(),
                "published".to_owned()
            ),
            (
                "lading-pub-b-0.3.0.intoto.jsonl".to_owned(),
                "published".to_owned()
            ),
        ]
    );
    let again = publish(root, &server, "main", &[out.to_str().unwrap()]);
    assert_ok(&again);
    assert!(
        outcomes(&again)
            .iter()
            .all(|(_, outcome)| outcome == "already_published"),
        "{}",
        support::describe(&again)
    );
    let lines = index_lines(&cargo.index, "la/di/lading-pub-b", &token);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["cksum"], cksum.as_str());
    assert_eq!(
        lines[0]["deps"],
        serde_json::json!([{"name": "renamed", "package": "lading-pq", "req": "^0.1",
            "features": [], "optional": false, "default_features": true, "target": null,
            "kind": "normal"}])
    );

    // Other bytes under 0.3.0: exit 1, both digests named, nothing sent.
    fs_err::write(
        crate_dir.join("src/lib.rs"),
        "pub fn answer() -> u32 { 7 }\n",
    )
    .unwrap();
    let other = root.join("out-b-other");
    assert_ok(&pack_crate(
        root, &server, &cargo, &token, &crate_dir, &other,
    ));
    let conflict = publish(
        root,
        &server,
        "main",
        &[
            "--format",
            "cargo",
            other.join("lading-pub-b-0.3.0.crate").to_str().unwrap(),
        ],
    );
    support::assert_exit_with(&conflict, 1, "differs from what the repository already has");
    assert!(
        stderr(&conflict).contains(&format!("sha256:{cksum}")),
        "{}",
        stderr(&conflict)
    );

    // cargo resolves, fetches (checksum = cksum) and builds a project on it.
    let consumer = Cargo::new(root, &server, "lading-consumer");
    let app = project(
        root,
        "lading-app",
        "lading-pub-b = { version = \"0.3\", registry = \"lading\" }\n",
        "fn main() { println!(\"{}\", lading_pub_b::answer()); }\n",
    );
    assert_ok(&consumer.run(&app, &token, &["generate-lockfile"]));
    assert_eq!(locked_checksum(&app, "lading-pub-b"), cksum);
    assert_ok(&consumer.run(&app, &token, &["fetch"]));
    let output = consumer.run(&app, &token, &["run", "--offline", "--quiet"]);
    assert_ok(&output);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "42");
}

/// A registry `name` for repository `repository` of `server` in `cargo`'s config.
fn add_registry(cargo: &Cargo, server: &LadingServer, name: &str, repository: &str) -> String {
    let index = format!("{}/d/local/cargo/{repository}/", server.url);
    let config = cargo.home.join("config.toml");
    let text = fs_err::read_to_string(&config).unwrap()
        + &format!(
            "\n[registries.{name}]\nindex = \"sparse+{index}\"\ncredential-provider = [\"cargo:token\"]\n"
        );
    fs_err::write(&config, text).unwrap();
    index
}

#[test]
fn cargo_publish_and_lading_publish_give_the_same_index_line_and_metadata() {
    let _ = require_tool!(cargo());
    let _ = require_tool!(crate::support::client::curl());
    let _ = require_tool!(support::aws());
    let (dir, server) = support::serve(ServerSpec::default());
    let root = dir.path();
    let token = server.token();
    for repository in ["one", "two"] {
        server.aws_json(
            root,
            &[
                "create-repository",
                "--domain",
                "local",
                "--repository",
                repository,
            ],
        );
    }
    let cargo = Cargo::new(root, &server, "same-line");
    let one = add_registry(&cargo, &server, "one", "one");
    let two = add_registry(&cargo, &server, "two", "two");

    // Dependencies in `main` (registry `lading`), published to `one` by cargo and to `two`
    // by lading: both name `main`'s index as the dependencies' registry.
    for (name, extra) in [("lading-sq", "\n[features]\nx = []\n"), ("sq-build", "")] {
        let dependency = fixture(root, name, "0.1.5", extra, "pub fn f() {}\n");
        assert_ok(&cargo.publish(&dependency, Some(&token)));
    }
    let manifest = "authors = [\"A <a@example.com>\", \"B\"]\nhomepage = \"https://example.com/\"\ndocumentation = \"https://docs.example.com/\"\nrepository = \"https://example.com/repo\"\nkeywords = [\"lading\", \"test\"]\ncategories = [\"development-tools\"]\nreadme = \"README.md\"\nlinks = \"samelinks\"\nrust-version = \"1.70\"\n\n[dependencies]\nrenamed = { package = \"lading-sq\", version = \"0.1.5\", registry = \"lading\", optional = true, default-features = false, features = [] }\n\n[build-dependencies]\nsq-build = { version = \"=0.1.5\", registry = \"lading\" }\n\n[dev-dependencies]\nlading-sq = { version = \"~0.1\", registry = \"lading\" }\n\n[target.'cfg(any(unix,windows))'.dependencies]\nsq-build = { version = \">=0.1, <0.2\", registry = \"lading\" }\n\n[features]\ndefault = [\"plain\"]\nplain = []\nextra = [\"dep:renamed\", \"renamed?/x\"]\n\n[badges]\nmaintenance = { status = \"experimental\" }\n";
    let crate_dir = fixture(root, "lading-same", "1.0.0", manifest, "pub fn s() {}\n");
    fs_err::write(crate_dir.join("build.rs"), "fn main() {}\n").unwrap();
    fs_err::write(crate_dir.join("README.md"), "# same\n\nread me.\n").unwrap();
    // `publish = ["lading"]` in the fixture: allow the two registries compared.
    let toml = fs_err::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    fs_err::write(
        crate_dir.join("Cargo.toml"),
        toml.replace("publish = [\"lading\"]", "publish = [\"one\", \"two\"]"),
    )
    .unwrap();

    let mut command = cargo.command(
        &crate_dir,
        &[
            "publish",
            "--registry",
            "one",
            "--no-verify",
            "--allow-dirty",
        ],
    );
    command
        .env("CARGO_REGISTRIES_ONE_TOKEN", &token)
        .env("CARGO_REGISTRIES_LADING_TOKEN", &token);
    assert_ok(&support::run(&mut command));
    let out = root.join("out-same");
    assert_ok(&pack_crate(root, &server, &cargo, &token, &crate_dir, &out));
    let published = publish(root, &server, "two", &[out.to_str().unwrap()]);
    assert_ok(&published);

    let by_cargo = index_lines(&one, "la/di/lading-same", &token);
    let by_lading = index_lines(&two, "la/di/lading-same", &token);
    assert_eq!(by_cargo.len(), 1, "{by_cargo:?}");
    assert_eq!(by_lading, by_cargo);
    assert_eq!(
        by_lading[0]["cksum"],
        sha256_hex(&fs_err::read(out.join("lading-same-1.0.0.crate")).unwrap()).as_str()
    );
    let main_index = format!("sparse+{}", cargo.index);
    assert_eq!(
        by_lading[0]["deps"][0]["registry"],
        main_index.as_str(),
        "{by_lading:?}"
    );

    // The rest of the metadata (readme, description, links…) as the control plane reads it.
    let describe = |repository: &str| {
        let mut described = server.aws_json_on(
            root,
            repository,
            &[
                "describe-package-version",
                "--format",
                "cargo",
                "--package",
                "lading-same",
                "--package-version",
                "1.0.0",
            ],
        )["packageVersion"]
            .clone();
        let object = described.as_object_mut().unwrap();
        object.remove("publishedTime");
        object.remove("revision");
        object.remove("origin");
        let readme = server.aws_json_on(
            root,
            repository,
            &[
                "get-package-version-readme",
                "--format",
                "cargo",
                "--package",
                "lading-same",
                "--package-version",
                "1.0.0",
            ],
        )["readme"]
            .clone();
        (described, readme)
    };
    let (cargo_described, cargo_readme) = describe("one");
    assert_eq!(cargo_readme, "# same\n\nread me.\n");
    assert_eq!(describe("two"), (cargo_described, cargo_readme));
}

/// A gem source directory `name`-`version` under `root`: `lib/<name>.rb` defining
/// `LadingPub::<CONSTANT>`, a gemspec with `dependencies` (runtime).
fn gem_source(root: &Path, name: &str, version: &str, body: &str, dependencies: &str) -> PathBuf {
    let dir = root.join(format!("gem-src-{name}-{version}"));
    let module = name.replace('-', "_");
    fs_err::create_dir_all(dir.join("lib")).unwrap();
    fs_err::write(
        dir.join("lib").join(format!("{module}.rb")),
        format!(
            "module LadingPub\n  {} = {body:?}\nend\n",
            module.to_uppercase()
        ),
    )
    .unwrap();
    fs_err::write(
        dir.join(format!("{name}.gemspec")),
        format!(
            "Gem::Specification.new do |s|\n  s.name = {name:?}\n  s.version = {version:?}\n  s.summary = \"lading fixture\"\n  s.authors = [\"lading\"]\n  s.license = \"MIT\"\n  s.files = [\"lib/{module}.rb\"]\n{dependencies}end\n"
        ),
    )
    .unwrap();
    dir
}

/// `lading pack --format ruby --base DIR --out OUT` (`gem build` run by lading) with
/// `SOURCE_DATE_EPOCH`.
fn pack_gem(root: &Path, server: &LadingServer, dir: &Path, out: &Path) -> Output {
    let home = root.join("lading-home");
    fs_err::create_dir_all(&home).unwrap();
    let mut command = support::clean_command(support::lading_bin(), &home);
    command
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["pack", "--format", "ruby", "--base"])
        .arg(dir)
        .arg("--out")
        .arg(out);
    for (key, value) in server.aws_env() {
        command.env(key, value);
    }
    support::run(&mut command)
}

/// The mtime of every entry of a `.gem` (a plain tar).
fn gem_mtimes(bytes: &[u8]) -> Vec<u64> {
    tar::Archive::new(bytes)
        .entries()
        .unwrap()
        .map(|entry| entry.unwrap().header().mtime().unwrap())
        .collect()
}

#[test]
fn lading_packs_and_publishes_gems_that_gem_and_bundler_install_from_lading_serve() {
    use crate::serve_ruby::{bundle, bundle_command, bundler_app, gem, gem_command};
    let _ = require_tool!(gem());
    let _ = require_tool!(bundle());
    let _ = require_tool!(crate::support::client::curl());
    let (dir, server) = support::serve(ServerSpec::default());
    let root = dir.path();
    let token = server.token();
    let endpoint = format!("{}/d/local/ruby/main/", server.url);

    // The dependency: built with `gem build`, published one-off with `--format ruby`.
    let dependency = gem_source(root, "lading-rdep", "1.1.0", "1.1.0", "");
    let mut build = gem_command(root, &["build", "lading-rdep.gemspec"]);
    build.current_dir(&dependency);
    support::run_ok(&mut build);
    let dependency_gem = dependency.join("lading-rdep-1.1.0.gem");
    let pushed = publish(
        root,
        &server,
        "main",
        &["--format", "ruby", dependency_gem.to_str().unwrap()],
    );
    assert_ok(&pushed);
    assert_eq!(
        outcomes(&pushed),
        [("lading-rdep-1.1.0.gem".to_owned(), "published".to_owned())]
    );

    // The gem: `lading pack` runs `gem build` with the source date, so packing again gives
    // the same bytes.
    let source = gem_source(
        root,
        "lading-rpub",
        "0.2.0",
        "0.2.0",
        "  s.add_runtime_dependency \"lading-rdep\", \">= 1.0\", \"< 2\"\n",
    );
    let out = root.join("out-gem");
    assert_ok(&pack_gem(root, &server, &source, &out));
    let packed = fs_err::read(out.join("lading-rpub-0.2.0.gem")).unwrap();
    assert!(
        gem_mtimes(&packed)
            .iter()
            .all(|mtime| *mtime == 1_700_000_000)
    );
    let again_out = root.join("out-gem-again");
    assert_ok(&pack_gem(root, &server, &source, &again_out));
    assert_eq!(
        fs_err::read(again_out.join("lading-rpub-0.2.0.gem")).unwrap(),
        packed
    );
    let manifest: Value =
        serde_json::from_slice(&fs_err::read(out.join("lading-rpub-0.2.0.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["format"], "ruby", "{manifest:#}");
    assert_eq!(manifest["files"][0]["purl"], "pkg:gem/lading-rpub@0.2.0");
    let sha256 = sha256_hex(&packed);

    let first = publish(root, &server, "main", &[out.to_str().unwrap()]);
    assert_ok(&first);
    assert_eq!(
        outcomes(&first),
        [
            ("lading-rpub-0.2.0.gem".to_owned(), "published".to_owned()),
            (
                "lading-rpub-0.2.0.intoto.jsonl".to_owned(),
                "published".to_owned()
            ),
        ]
    );
    let again = publish(root, &server, "main", &[again_out.to_str().unwrap()]);
    assert_ok(&again);
    assert!(
        outcomes(&again)
            .iter()
            .all(|(_, outcome)| outcome == "already_published"),
        "{}",
        support::describe(&again)
    );
    let (status, info) = crate::support::client::curl_status(
        root,
        &[
            "-u",
            &format!("aws:{token}"),
            &format!("{endpoint}info/lading-rpub"),
        ],
    );
    assert_eq!(
        (status, info),
        (
            200,
            format!("---\n0.2.0 lading-rdep:>= 1.0&< 2|checksum:{sha256}\n")
        )
    );

    // Other bytes under 0.2.0: exit 1, both digests named.
    fs_err::write(source.join("lib/lading_rpub.rb"), "module LadingPub\nend\n").unwrap();
    let other = root.join("out-gem-other");
    assert_ok(&pack_gem(root, &server, &source, &other));
    let conflict = publish(
        root,
        &server,
        "main",
        &[
            "--format",
            "ruby",
            other.join("lading-rpub-0.2.0.gem").to_str().unwrap(),
        ],
    );
    support::assert_exit_with(&conflict, 1, "differs from what the repository already has");
    assert!(
        stderr(&conflict).contains(&format!("sha256:{sha256}")),
        "{}",
        stderr(&conflict)
    );

    // `gem install --source` (RubyGems 3.3) and `bundle install` (bundler 2.3) from it.
    let with_token = endpoint.replacen("http://", &format!("http://aws:{token}@"), 1);
    let target = root.join("gem-install");
    let mut install = gem_command(
        root,
        &[
            "install",
            "--no-document",
            "--clear-sources",
            "--source",
            &with_token,
            "--install-dir",
        ],
    );
    install.arg(&target).arg("lading-rpub");
    support::run_ok(&mut install);
    assert_eq!(
        fs_err::read(target.join("cache/lading-rpub-0.2.0.gem")).unwrap(),
        packed
    );
    assert!(
        target
            .join("gems/lading-rdep-1.1.0/lib/lading_rdep.rb")
            .is_file()
    );
    let app = bundler_app(root, "gem-app", &endpoint, &token, &["\"lading-rpub\""]);
    support::run_ok(&mut bundle_command(&app, &["install"]));
    let ran = support::run_ok(&mut bundle_command(
        &app,
        &[
            "exec",
            "ruby",
            "-e",
            "require 'lading_rpub'; require 'lading_rdep'; puts LadingPub::LADING_RPUB + ' ' + LadingPub::LADING_RDEP",
        ],
    ));
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "0.2.0 1.1.0");
}
