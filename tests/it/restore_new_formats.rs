//! `lading restore` for the lockfiles issue #18 adds: yarn 4 (berry) `yarn.lock`, checked
//! with real yarn 4 installing offline (`YARN_ENABLE_NETWORK=0`) from what lading placed;
//! `poetry.lock` written by real poetry, installed offline by pip from the wheelhouse;
//! `Gemfile.lock` written by Debian's Bundler against a static compact index, installed by
//! `bundle install --local` from `vendor/cache`.

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

fn gem() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_GEM", None, Some("gem"))
}

fn bundle() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_BUNDLE", None, Some("bundle"))
}

/// Two gems built by `gem build` (`lading-alpha` depends on `lading-beta`), in a static
/// compact index (`versions`, `info/<gem>`, `names`, `gems/`) as rubygems.org lays it out.
/// Debian's RubyGems 3.3 `gem generate_index` writes only the Marshal indexes, so the test
/// writes the compact index's three text files itself.
fn compact_index(gem: &Path, home: &Path, dir: &Path) -> PathBuf {
    let root = dir.join("gem-server");
    fs_err::create_dir_all(root.join("gems")).unwrap();
    fs_err::create_dir_all(root.join("info")).unwrap();
    let mut infos = Vec::new();
    for (name, version, library, dependency) in [
        ("lading-beta", "2.0.0", "lading_beta", None),
        ("lading-alpha", "1.0.0", "lading_alpha", Some("lading-beta")),
    ] {
        let source = dir.join("gem-src").join(name);
        fs_err::create_dir_all(source.join("lib")).unwrap();
        let body = match dependency {
            Some(_) => {
                "require \"lading_beta\"\nmodule LadingAlpha; VALUE = \"alpha-1 \" + LadingBeta::VALUE; end\n"
            }
            None => "module LadingBeta; VALUE = \"beta-2\"; end\n",
        };
        fs_err::write(source.join(format!("lib/{library}.rb")), body).unwrap();
        let depends = dependency
            .map(|dependency| format!("  s.add_dependency \"{dependency}\", \">= 1.0\"\n"))
            .unwrap_or_default();
        fs_err::write(
            source.join("gem.gemspec"),
            format!(
                "Gem::Specification.new do |s|\n  s.name = \"{name}\"\n  s.version = \"{version}\"\n  s.summary = \"{name}\"\n  s.authors = [\"lading\"]\n  s.license = \"MIT\"\n  s.files = [\"lib/{library}.rb\"]\n{depends}end\n"
            ),
        )
        .unwrap();
        let file = root.join(format!("gems/{name}-{version}.gem"));
        support::run_ok(
            support::clean_command(gem, home)
                .current_dir(&source)
                .args(["build", "gem.gemspec", "-o"])
                .arg(&file),
        );
        let requirements = dependency
            .map(|dependency| format!("{dependency}:>= 1.0"))
            .unwrap_or_default();
        let info = format!(
            "---\n{version} {requirements}|checksum:{}\n",
            support::sha256_hex(&fs_err::read(&file).unwrap())
        );
        fs_err::write(root.join(format!("info/{name}")), &info).unwrap();
        infos.push((name, version, info));
    }
    infos.sort();
    let mut versions = "created_at: 2026-01-01T00:00:00Z\n---\n".to_owned();
    let mut names = "---\n".to_owned();
    for (name, version, info) in &infos {
        use md5::Digest as _;
        use std::fmt::Write as _;
        let md5 = hex::encode(md5::Md5::digest(info.as_bytes()));
        writeln!(versions, "{name} {version} {md5}").unwrap();
        writeln!(names, "{name}").unwrap();
    }
    fs_err::write(root.join("versions"), versions).unwrap();
    fs_err::write(root.join("names"), names).unwrap();
    root
}

fn restore_gems(home: &Path, project: &Path, server: &str, cache: &Path) -> std::process::Output {
    support::run(
        support::clean_command(support::lading_bin(), home)
            .current_dir(project)
            .env("LADING_CACHE_DIR", cache)
            .args(["restore", "--registry-url", server]),
    )
}

// See: issue #18 (client side: `lading restore` gains `Gemfile.lock`)
#[test]
fn gemfile_lock_locked_by_bundler_restores_verified_gems_and_bundle_installs_local() {
    let gem = require_tool!(gem());
    let bundle = require_tool!(bundle());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let root = compact_index(&gem, &home, dir.path());
    let server = support::peers::StaticServer::start(&root);

    // Locked by Bundler against the compact index (Bundler 2.3 writes no CHECKSUMS).
    let project = dir.path().join("app");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::write(
        project.join("Gemfile"),
        format!(
            "source \"{}\"\ngem \"lading-alpha\", \"1.0.0\"\n",
            server.url
        ),
    )
    .unwrap();
    support::run_ok(
        support::clean_command(&bundle, &home)
            .current_dir(&project)
            .arg("lock"),
    );
    let lock = fs_err::read_to_string(project.join("Gemfile.lock")).unwrap();
    assert!(lock.contains("    lading-beta (2.0.0)"), "{lock}");

    // Verified against the compact index's `checksum:`, into `vendor/cache`.
    let output = restore_gems(&home, &project, &server.url, &dir.path().join("cache-1"));
    assert!(output.status.success(), "{}", support::describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bundler: 2 packages"), "{stderr}");
    for file in ["lading-alpha-1.0.0.gem", "lading-beta-2.0.0.gem"] {
        assert_eq!(
            fs_err::read(project.join("vendor/cache").join(file)).unwrap(),
            fs_err::read(root.join("gems").join(file)).unwrap(),
            "{file}"
        );
    }

    // A CHECKSUMS section (Bundler 2.5+) is the pin when present: a wrong one fails the
    // restore and places nothing.
    let pinned = dir.path().join("pinned");
    fs_err::create_dir_all(&pinned).unwrap();
    fs_err::copy(project.join("Gemfile"), pinned.join("Gemfile")).unwrap();
    let beta = support::sha256_hex(&fs_err::read(root.join("gems/lading-beta-2.0.0.gem")).unwrap());
    let wrong = "0".repeat(64);
    fs_err::write(
        pinned.join("Gemfile.lock"),
        lock.replace(
            "BUNDLED WITH",
            &format!("CHECKSUMS\n  lading-alpha (1.0.0)\n  lading-beta (2.0.0) sha256={wrong}\n\nBUNDLED WITH"),
        ),
    )
    .unwrap();
    let output = restore_gems(&home, &pinned, &server.url, &dir.path().join("cache-2"));
    support::assert_exit_with(&output, 1, &wrong);
    assert!(!pinned.join("vendor/cache").exists());
    fs_err::write(
        pinned.join("Gemfile.lock"),
        fs_err::read_to_string(pinned.join("Gemfile.lock"))
            .unwrap()
            .replace(&wrong, &beta),
    )
    .unwrap();
    let output = restore_gems(&home, &pinned, &server.url, &dir.path().join("cache-2"));
    assert!(output.status.success(), "{}", support::describe(&output));

    // A gem the server changed after indexing it does not match its `checksum:`.
    let tampered = dir.path().join("tampered");
    fs_err::create_dir_all(&tampered).unwrap();
    fs_err::copy(project.join("Gemfile"), tampered.join("Gemfile")).unwrap();
    fs_err::copy(project.join("Gemfile.lock"), tampered.join("Gemfile.lock")).unwrap();
    let original = fs_err::read(root.join("gems/lading-alpha-1.0.0.gem")).unwrap();
    fs_err::write(root.join("gems/lading-alpha-1.0.0.gem"), b"not the gem").unwrap();
    let output = restore_gems(&home, &tampered, &server.url, &dir.path().join("cache-3"));
    support::assert_exit_with(&output, 1, "lading-alpha-1.0.0");
    assert!(!tampered.join("vendor/cache").exists());
    fs_err::write(root.join("gems/lading-alpha-1.0.0.gem"), original).unwrap();

    // With the server gone, Bundler installs from `vendor/cache` alone.
    drop(server);
    let bundle_path = dir.path().join("bundle");
    support::run_ok(
        support::clean_command(&bundle, &home)
            .current_dir(&project)
            .env("BUNDLE_PATH", &bundle_path)
            .args(["install", "--local"]),
    );
    let output = support::run_ok(
        support::clean_command(&bundle, &home)
            .current_dir(&project)
            .env("BUNDLE_PATH", &bundle_path)
            .args([
                "exec",
                "ruby",
                "-e",
                "require 'lading_alpha'; puts LadingAlpha::VALUE",
            ]),
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "alpha-1 beta-2"
    );
}
