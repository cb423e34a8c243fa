//! `lading serve`'s RubyGems data plane, driven by Debian's `gem` (RubyGems 3.3) and
//! `bundle` (bundler 2.3): `gem push` / `gem yank` with the token as the API key, bundler
//! resolving and installing through the compact index (`versions`, `info/<gem>`), `gem
//! install --source` (which also reads `quick/Marshal.4.8/*.gemspec.rz`), package status and
//! origin controls through the AWS CLI, and pull-through from an upstream compact index.
//!
//! rubygems.org is not reachable from this machine, so `public:ruby-gems-org` is pointed at a
//! local upstream: gems built here, indexed by `gem generate_index` (Debian's RubyGems 3.3
//! writes only the Marshal `specs.4.8` indexes and `quick/` gemspecs), plus the compact index
//! rubygems.org serves (`versions`, `info/<gem>`, `names`), which this test writes beside
//! them, served by nginx.
//!
//! See: issue #18, "Data planes", ruby.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::require_tool;
use crate::support::client::{curl, curl_status};
use crate::support::peers::Nginx;
use crate::support::{self, LadingServer, ServerSpec, sha256_hex};

pub(crate) fn gem() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_GEM", None, Some("gem"))
}

pub(crate) fn bundle() -> Option<PathBuf> {
    support::find_tool("LADING_TEST_BUNDLE", None, Some("bundle"))
}

/// Every peer these tests drive.
fn clients() -> Option<()> {
    support::aws()?;
    gem()?;
    bundle()?;
    curl()?;
    Some(())
}

/// A gem to build: name, version, runtime dependencies, `required_ruby_version`.
struct Fixture<'a> {
    name: &'a str,
    version: &'a str,
    dependencies: &'a [(&'a str, &'a [&'a str])],
    ruby: Option<&'a str>,
}

/// `gem build` of a tiny gemspec for `fixture` under `root`; the `.gem`'s path.
fn build_gem(root: &Path, fixture: &Fixture<'_>) -> PathBuf {
    let dir = root.join(format!("src-{}-{}", fixture.name, fixture.version));
    let module = fixture.name.replace('-', "_");
    fs_err::create_dir_all(dir.join("lib")).unwrap();
    fs_err::write(
        dir.join("lib").join(format!("{module}.rb")),
        format!(
            "module Fixture\n  VERSION_{} = \"{}\"\nend\n",
            module.to_uppercase(),
            fixture.version
        ),
    )
    .unwrap();
    let mut gemspec = format!(
        "Gem::Specification.new do |s|\n  s.name = {:?}\n  s.version = {:?}\n  s.summary = \"lading fixture\"\n  s.authors = [\"lading\"]\n  s.license = \"MIT\"\n  s.files = [\"lib/{module}.rb\"]\n",
        fixture.name, fixture.version
    );
    for (name, requirements) in fixture.dependencies {
        let _ = writeln!(
            gemspec,
            "  s.add_runtime_dependency {name:?}, {requirements:?}"
        );
    }
    if let Some(ruby) = fixture.ruby {
        let _ = writeln!(gemspec, "  s.required_ruby_version = {ruby:?}");
    }
    gemspec.push_str("end\n");
    fs_err::write(dir.join("fixture.gemspec"), gemspec).unwrap();
    let mut command = support::clean_command(gem().unwrap(), &dir);
    command.current_dir(&dir).args(["build", "fixture.gemspec"]);
    support::run_ok(&mut command);
    dir.join(format!("{}-{}.gem", fixture.name, fixture.version))
}

/// `gem ARGS` with a private `HOME` under `root`.
pub(crate) fn gem_command(root: &Path, args: &[&str]) -> Command {
    let home = root.join("gem-home");
    fs_err::create_dir_all(&home).unwrap();
    let mut command = support::clean_command(gem().unwrap(), &home);
    command.args(args);
    command
}

/// `gem push FILE --host ENDPOINT` with the token as `GEM_HOST_API_KEY`.
fn gem_push(root: &Path, endpoint: &str, token: &str, file: &Path) -> Output {
    let mut command = gem_command(root, &["push"]);
    command
        .arg(file)
        .args(["--host", endpoint.trim_end_matches('/')])
        .env("GEM_HOST_API_KEY", token);
    support::run(&mut command)
}

/// `gem yank NAME -v VERSION --host ENDPOINT` with the token as `GEM_HOST_API_KEY`.
fn gem_yank(root: &Path, endpoint: &str, token: &str, name: &str, version: &str) -> Output {
    let mut command = gem_command(root, &["yank", name, "-v", version]);
    command
        .args(["--host", endpoint.trim_end_matches('/')])
        .env("GEM_HOST_API_KEY", token);
    support::run(&mut command)
}

/// An app directory with a Gemfile requiring `requirements` from `source`, bundler's
/// credentials for 127.0.0.1 set with `bundle config set --local` and gems installed into
/// `vendor/bundle`.
pub(crate) fn bundler_app(
    root: &Path,
    what: &str,
    source: &str,
    token: &str,
    requirements: &[&str],
) -> PathBuf {
    let app = root.join(what);
    fs_err::create_dir_all(&app).unwrap();
    let mut gemfile = format!("source {source:?}\n");
    for requirement in requirements {
        let _ = writeln!(gemfile, "gem {requirement}");
    }
    fs_err::write(app.join("Gemfile"), gemfile).unwrap();
    support::run_ok(&mut bundle_command(
        &app,
        &["config", "set", "--local", "path", "vendor/bundle"],
    ));
    support::run_ok(&mut bundle_command(
        &app,
        &[
            "config",
            "set",
            "--local",
            "127.0.0.1",
            &format!("aws:{token}"),
        ],
    ));
    app
}

/// `bundle ARGS` in `app`, its `HOME` (and so bundler's compact index cache) inside it.
pub(crate) fn bundle_command(app: &Path, args: &[&str]) -> Command {
    let mut command = support::clean_command(bundle().unwrap(), app);
    command.current_dir(app).args(args);
    command
}

/// `aws codeartifact ARGS` on repository `main` of domain `local`, as the admin.
fn aws_json(server: &LadingServer, args: &[&str]) -> serde_json::Value {
    let home = server.data.with_extension("aws-home");
    fs_err::create_dir_all(&home).unwrap();
    server.aws_json_on(&home, "main", args)
}

fn status_of(server: &LadingServer, package: &str, version: &str) -> String {
    let versions = aws_json(
        server,
        &[
            "list-package-versions",
            "--format",
            "ruby",
            "--package",
            package,
        ],
    );
    versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["version"] == version)
        .map_or_else(
            || panic!("{package} {version} not listed: {versions}"),
            |entry| entry["status"].as_str().unwrap().to_owned(),
        )
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(bytes))
}

/// `curl` GET of `url` with the token as Basic credentials (what bundler sends).
fn get(root: &Path, url: &str, token: &str) -> (u16, String) {
    curl_status(root, &["-u", &format!("aws:{token}"), url])
}

#[test]
fn gem_push_bundle_install_gem_install_and_yank_round_trip() {
    require_tool!(clients());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let root = dir.path();
    let token = server.token();
    let endpoint = format!("{}/d/local/ruby/main/", server.url);
    let home = root.join("aws-home");
    fs_err::create_dir_all(&home).unwrap();
    assert_eq!(server.repository_endpoint(&home, "ruby"), endpoint);

    let dep = build_gem(
        root,
        &Fixture {
            name: "lading-dep",
            version: "1.2.0",
            dependencies: &[],
            ruby: None,
        },
    );
    let hello = build_gem(
        root,
        &Fixture {
            name: "lading-hello",
            version: "0.1.0",
            dependencies: &[("lading-dep", &[">= 1.0", "< 3"])],
            ruby: Some(">= 2.5"),
        },
    );
    for file in [&dep, &hello] {
        let pushed = gem_push(root, &endpoint, &token, file);
        assert!(pushed.status.success(), "{}", support::describe(&pushed));
        assert!(
            String::from_utf8_lossy(&pushed.stdout).contains("Successfully registered gem"),
            "{}",
            support::describe(&pushed)
        );
    }
    // A repush is refused, as rubygems.org refuses it; a token that is not one, too.
    let again = gem_push(root, &endpoint, &token, &dep);
    assert!(!again.status.success(), "{}", support::describe(&again));
    assert!(
        support::describe(&again).contains("Repushing of gem versions is not allowed"),
        "{}",
        support::describe(&again)
    );
    let forged = gem_push(root, &endpoint, "ldt_not-a-token", &dep);
    assert!(!forged.status.success(), "{}", support::describe(&forged));
    assert!(
        support::describe(&forged).contains("unknown authorization token"),
        "{}",
        support::describe(&forged)
    );

    // The compact index: the info file lists the dependency, the sha256 of the .gem and the
    // Ruby requirement; `versions` names the md5 of that info file; `names` both gems.
    let (status, info) = get(root, &format!("{endpoint}info/lading-hello"), &token);
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        info,
        format!(
            "---\n0.1.0 lading-dep:>= 1.0&< 3|checksum:{},ruby:>= 2.5\n",
            sha256_hex(&fs_err::read(&hello).unwrap())
        )
    );
    let (status, versions) = get(root, &format!("{endpoint}versions"), &token);
    assert_eq!(status, 200, "{versions}");
    assert!(versions.starts_with("created_at: "), "{versions}");
    assert!(
        versions.contains("\n---\nlading-dep 1.2.0 ")
            && versions.contains(&format!(
                "\nlading-hello 0.1.0 {}\n",
                md5_hex(info.as_bytes())
            )),
        "{versions}"
    );
    let (status, names) = get(root, &format!("{endpoint}names"), &token);
    assert_eq!(
        (status, names.as_str()),
        (200, "---\nlading-dep\nlading-hello\n")
    );
    let (status, _) = curl_status(root, &[&format!("{endpoint}versions")]);
    assert_eq!(status, 401, "reads need a token");

    // bundler resolves through the compact index and installs the gems it downloads.
    let app = bundler_app(root, "app", &endpoint, &token, &["\"lading-hello\""]);
    let locked = support::run(&mut bundle_command(&app, &["lock"]));
    assert!(locked.status.success(), "{}", support::describe(&locked));
    let lock = fs_err::read_to_string(app.join("Gemfile.lock")).unwrap();
    assert!(
        lock.contains(&format!("remote: {endpoint}"))
            && lock.contains("    lading-dep (1.2.0)\n")
            && lock.contains("    lading-hello (0.1.0)\n      lading-dep (>= 1.0, < 3)\n"),
        "{lock}"
    );
    let installed = support::run(&mut bundle_command(&app, &["install"]));
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    let ran = support::run_ok(&mut bundle_command(
        &app,
        &[
            "exec",
            "ruby",
            "-e",
            "require 'lading_hello'; require 'lading_dep'; puts Fixture::VERSION_LADING_HELLO + ' ' + Fixture::VERSION_LADING_DEP",
        ],
    ));
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "0.1.0 1.2.0");

    // gem install --source with the token in the URL: RubyGems 3.3 reads info/ and the
    // Marshal gemspecs, then downloads both gems.
    let source = endpoint.replacen("http://", &format!("http://aws:{token}@"), 1);
    let target = root.join("gem-install");
    let mut command = gem_command(
        root,
        &[
            "install",
            "--no-document",
            "--clear-sources",
            "--source",
            &source,
            "--install-dir",
        ],
    );
    command.arg(&target).arg("lading-hello");
    let gem_installed = support::run(&mut command);
    assert!(
        gem_installed.status.success(),
        "{}",
        support::describe(&gem_installed)
    );
    assert!(
        target
            .join("gems/lading-hello-0.1.0/lib/lading_hello.rb")
            .is_file()
    );
    assert!(
        target
            .join("gems/lading-dep-1.2.0/lib/lading_dep.rb")
            .is_file()
    );

    // The control plane sees both versions, Published, with the pushed files' digests.
    assert_eq!(status_of(&server, "lading-hello", "0.1.0"), "Published");
    let assets = aws_json(
        &server,
        &[
            "list-package-version-assets",
            "--format",
            "ruby",
            "--package",
            "lading-dep",
            "--package-version",
            "1.2.0",
        ],
    );
    assert_eq!(
        assets["assets"][0]["name"], "lading-dep-1.2.0.gem",
        "{assets}"
    );
    assert_eq!(
        assets["assets"][0]["hashes"]["SHA-256"],
        sha256_hex(&fs_err::read(&dep).unwrap()),
        "{assets}"
    );

    // gem yank: the version is Archived, gone from the index and not downloadable, and
    // bundler refuses the locked version in a fresh install.
    let yanked = gem_yank(root, &endpoint, &token, "lading-dep", "1.2.0");
    assert!(yanked.status.success(), "{}", support::describe(&yanked));
    assert!(
        String::from_utf8_lossy(&yanked.stdout).contains("Successfully deleted gem"),
        "{}",
        support::describe(&yanked)
    );
    assert_eq!(status_of(&server, "lading-dep", "1.2.0"), "Archived");
    let (status, _) = get(
        root,
        &format!("{endpoint}gems/lading-dep-1.2.0.gem"),
        &token,
    );
    assert_eq!(status, 404);
    let (_, versions) = get(root, &format!("{endpoint}versions"), &token);
    assert!(!versions.contains("lading-dep"), "{versions}");
    let again = root.join("app-after-yank");
    fs_err::create_dir_all(&again).unwrap();
    let relocked = bundler_app(
        root,
        "app-after-yank",
        &endpoint,
        &token,
        &["\"lading-hello\""],
    );
    fs_err::copy(app.join("Gemfile.lock"), relocked.join("Gemfile.lock")).unwrap();
    let refused = support::run(&mut bundle_command(&relocked, &["install"]));
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    assert!(
        support::describe(&refused).contains("lading-dep"),
        "{}",
        support::describe(&refused)
    );

    // Restoring the status (what CodeArtifact offers instead of `gem unyank`) lists it again.
    aws_json(
        &server,
        &[
            "update-package-versions-status",
            "--format",
            "ruby",
            "--package",
            "lading-dep",
            "--versions",
            "1.2.0",
            "--target-status",
            "Published",
        ],
    );
    let restored = support::run(&mut bundle_command(&relocked, &["install"]));
    assert!(
        restored.status.success(),
        "{}",
        support::describe(&restored)
    );
}

#[test]
fn push_needs_publish_and_respects_origin_controls() {
    require_tool!(clients());
    let (dir, server) = support::serve(ServerSpec::with_config(support::PRINCIPALS_CONFIG));
    let root = dir.path();
    let endpoint = format!("{}/d/local/ruby/main/", server.url);
    let home = root.join("aws-home");
    fs_err::create_dir_all(&home).unwrap();
    let reader = server.token_as(&home, &support::READER.credentials(root));
    let blocked = build_gem(
        root,
        &Fixture {
            name: "lading-blocked",
            version: "1.0.0",
            dependencies: &[],
            ruby: None,
        },
    );

    // A reader's token may read but not push.
    let refused = gem_push(root, &endpoint, &reader, &blocked);
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    assert!(
        support::describe(&refused).contains("may not publish to"),
        "{}",
        support::describe(&refused)
    );

    // publish=BLOCK on the package refuses the push; nothing is stored.
    aws_json(
        &server,
        &[
            "put-package-origin-configuration",
            "--format",
            "ruby",
            "--package",
            "lading-blocked",
            "--restrictions",
            "publish=BLOCK,upstream=BLOCK",
        ],
    );
    let token = server.token();
    let refused = gem_push(root, &endpoint, &token, &blocked);
    assert!(!refused.status.success(), "{}", support::describe(&refused));
    assert!(
        support::describe(&refused).contains("publish=BLOCK"),
        "{}",
        support::describe(&refused)
    );
    let (status, _) = get(root, &format!("{endpoint}info/lading-blocked"), &reader);
    assert_eq!(status, 404);

    // Allowed again, the push goes through and the reader reads it.
    aws_json(
        &server,
        &[
            "put-package-origin-configuration",
            "--format",
            "ruby",
            "--package",
            "lading-blocked",
            "--restrictions",
            "publish=ALLOW,upstream=BLOCK",
        ],
    );
    let pushed = gem_push(root, &endpoint, &token, &blocked);
    assert!(pushed.status.success(), "{}", support::describe(&pushed));
    let (status, body) = get(root, &format!("{endpoint}info/lading-blocked"), &reader);
    assert_eq!(status, 200, "{body}");

    // A body that is not a gem (`gem push` checks its own file first; curl does not) is
    // refused with what is wrong, the key sent as `gem push` sends it.
    let junk = root.join("junk.gem");
    fs_err::write(&junk, b"not a tar").unwrap();
    let (status, body) = curl_status(
        root,
        &[
            "-X",
            "POST",
            "-H",
            &format!("Authorization: {token}"),
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", junk.display()),
            &format!("{endpoint}api/v1/gems"),
        ],
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("not a gem") && body.contains("gem build"),
        "{body}"
    );
}

/// The compact index rubygems.org would serve for `gems` (built `.gem` files with what their
/// gemspecs say: name, version, runtime dependencies), written under `root`.
fn write_compact_index(root: &Path, gems: &[(&Fixture<'_>, &Path)]) {
    let mut names: Vec<&str> = gems.iter().map(|(fixture, _)| fixture.name).collect();
    names.sort_unstable();
    names.dedup();
    let mut versions = String::from("created_at: 2026-01-01T00:00:00Z\n---\n");
    fs_err::create_dir_all(root.join("info")).unwrap();
    for name in &names {
        let mut info = String::from("---\n");
        let mut listed = Vec::new();
        for (fixture, file) in gems.iter().filter(|(fixture, _)| fixture.name == *name) {
            let dependencies: Vec<String> = fixture
                .dependencies
                .iter()
                .map(|(dependency, requirements)| {
                    format!("{dependency}:{}", requirements.join("&"))
                })
                .collect();
            let _ = write!(
                info,
                "{} {}|checksum:{}",
                fixture.version,
                dependencies.join(","),
                sha256_hex(&fs_err::read(file).unwrap())
            );
            if let Some(ruby) = fixture.ruby {
                let _ = write!(info, ",ruby:{ruby}");
            }
            info.push('\n');
            listed.push(fixture.version);
        }
        fs_err::write(root.join("info").join(name), &info).unwrap();
        let _ = writeln!(
            versions,
            "{name} {} {}",
            listed.join(","),
            md5_hex(info.as_bytes())
        );
    }
    fs_err::write(root.join("versions"), versions).unwrap();
    fs_err::write(root.join("names"), format!("---\n{}\n", names.join("\n"))).unwrap();
}

#[test]
fn pulls_through_an_upstream_compact_index_for_bundler_and_gem() {
    require_tool!(clients());
    let nginx = require_tool!(Nginx::find());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();

    // The upstream: gems indexed by `gem generate_index`, plus the compact index.
    let upstream = root.join("upstream");
    fs_err::create_dir_all(upstream.join("gems")).unwrap();
    let base = Fixture {
        name: "lading-base",
        version: "1.0.0",
        dependencies: &[],
        ruby: None,
    };
    let base2 = Fixture {
        name: "lading-base",
        version: "2.0.0",
        dependencies: &[],
        ruby: None,
    };
    let app = Fixture {
        name: "lading-app",
        version: "0.3.0",
        dependencies: &[("lading-base", &["~> 1.0"])],
        ruby: Some(">= 2.5"),
    };
    let extra = Fixture {
        name: "lading-extra",
        version: "1.0.0",
        dependencies: &[],
        ruby: None,
    };
    let built: Vec<(&Fixture<'_>, PathBuf)> = [&base, &base2, &app, &extra]
        .into_iter()
        .map(|fixture| {
            let file = build_gem(root, fixture);
            let placed = upstream.join("gems").join(file.file_name().unwrap());
            fs_err::copy(&file, &placed).unwrap();
            (fixture, placed)
        })
        .collect();
    let mut index = gem_command(root, &["generate_index", "--directory"]);
    index.arg(&upstream);
    support::run_ok(&mut index);
    assert!(
        upstream
            .join("quick/Marshal.4.8/lading-app-0.3.0.gemspec.rz")
            .is_file()
    );
    assert!(
        !upstream.join("versions").exists(),
        "RubyGems 3.3's generate_index writes no compact index"
    );
    let listed: Vec<(&Fixture<'_>, &Path)> = built
        .iter()
        .map(|(fixture, file)| (*fixture, file.as_path()))
        .collect();
    write_compact_index(&upstream, &listed);
    let nginx = Nginx::start(&nginx, &root.join("nginx"), &upstream);

    let config = format!(
        "external_connections:\n  - name: public:ruby-gems-org\n    format: ruby\n    url: {}\ndomains:\n  - name: local\n    repositories: [main]\n",
        nginx.url
    );
    let server = LadingServer::start(&root.join("data"), ServerSpec::with_config(&config));
    let home = root.join("aws-home");
    fs_err::create_dir_all(&home).unwrap();
    server.associate(&home, "main", "public:ruby-gems-org");
    let token = server.token();
    let endpoint = format!("{}/d/local/ruby/main/", server.url);

    // The upstream's versions reach bundler through lading's `versions` and `info/`.
    let (status, versions) = get(root, &format!("{endpoint}versions"), &token);
    assert_eq!(status, 200, "{versions}");
    assert!(
        versions.contains("\nlading-base 1.0.0,2.0.0 "),
        "{versions}"
    );
    let bundled = bundler_app(root, "app", &endpoint, &token, &["\"lading-app\""]);
    let installed = support::run(&mut bundle_command(&bundled, &["install"]));
    assert!(
        installed.status.success(),
        "{}",
        support::describe(&installed)
    );
    let lock = fs_err::read_to_string(bundled.join("Gemfile.lock")).unwrap();
    assert!(
        lock.contains("    lading-base (1.0.0)\n") && lock.contains("    lading-app (0.3.0)\n"),
        "{lock}"
    );

    // Pulled through: stored with EXTERNAL origin, downloadable now from lading itself.
    let listed = aws_json(
        &server,
        &[
            "list-package-versions",
            "--format",
            "ruby",
            "--package",
            "lading-base",
        ],
    );
    assert_eq!(listed["versions"][0]["version"], "1.0.0", "{listed}");
    assert_eq!(
        listed["versions"][0]["origin"]["originType"], "EXTERNAL",
        "{listed}"
    );
    let access = fs_err::read_to_string(&nginx.access_log).unwrap();
    assert!(
        access.contains("GET /gems/lading-base-1.0.0.gem"),
        "{access}"
    );

    // gem install through lading: the gemspec of a gem not yet pulled pulls it through
    // (verified against the upstream's checksum) and is served from its metadata.
    let source = endpoint.replacen("http://", &format!("http://aws:{token}@"), 1);
    let target = root.join("gem-install");
    let mut command = gem_command(
        root,
        &[
            "install",
            "--no-document",
            "--clear-sources",
            "--source",
            &source,
            "--install-dir",
        ],
    );
    command.arg(&target).args(["lading-base", "-v", "2.0.0"]);
    let gem_installed = support::run(&mut command);
    assert!(
        gem_installed.status.success(),
        "{}",
        support::describe(&gem_installed)
    );
    assert!(
        target
            .join("gems/lading-base-2.0.0/lib/lading_base.rb")
            .is_file()
    );
    assert_eq!(status_of(&server, "lading-base", "2.0.0"), "Published");

    // An upstream file that does not match its checksum is refused and not stored.
    fs_err::write(upstream.join("gems/lading-extra-1.0.0.gem"), b"tampered").unwrap();
    let (status, body) = get(
        root,
        &format!("{endpoint}gems/lading-extra-1.0.0.gem"),
        &token,
    );
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("nothing was stored"), "{body}");
    let mut command = server.aws_command_on(
        &home,
        "main",
        &[
            "list-package-versions",
            "--format",
            "ruby",
            "--package",
            "lading-extra",
        ],
    );
    let listed = support::run(&mut command);
    assert!(!listed.status.success(), "{}", support::describe(&listed));
}
