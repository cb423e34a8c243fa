//! A rerun of the same job: the same artifacts from the same commit are the same publish.
//! `lading pack` writes the same provenance for the same inputs; a retried CI attempt (other
//! run metadata, same artifacts) keeps the provenance of the earlier run; a different
//! artifact byte still fails naming the file and both digests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::login::codeartifact;
use crate::support::{self, LadingServer, ServerSpec, describe};

const ED25519_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILdENjzI6vzhd4QeEVCfQ4iX8O0aQCIYSp06wElGIT5v\n-----END PRIVATE KEY-----\n";

struct Job {
    _temp: tempfile::TempDir,
    root: PathBuf,
    server: LadingServer,
}

impl Job {
    fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().to_path_buf();
        fs_err::create_dir_all(root.join("home")).unwrap();
        let server = LadingServer::start(&root.join("serve"), ServerSpec::default());
        let write = |relative: &str, text: &str| {
            let path = root.join(relative);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, text).unwrap();
        };
        write("key.pem", ED25519_KEY);
        write("generic/dist/app.txt", "generic one\n");
        write(
            "npm/package.json",
            "{\"name\":\"@acme/rerun\",\"version\":\"1.0.0\",\"main\":\"index.js\",\"description\":\"rerun\"}\n",
        );
        write("npm/index.js", "module.exports = 1\n");
        write("maven/acme/data.txt", "maven one\n");
        Self {
            _temp: temp,
            root,
            server,
        }
    }

    /// `lading` as GitHub Actions attempt `attempt` of run 4242 would run it.
    fn lading(&self, attempt: &str) -> Command {
        let mut command = support::clean_command(support::lading_bin(), &self.root.join("home"));
        command.current_dir(&self.root).envs([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/rerun"),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_RUN_ATTEMPT", attempt),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_REF", "refs/heads/main"),
            (
                "GITHUB_WORKFLOW_REF",
                "acme/rerun/.github/workflows/ci.yml@refs/heads/main",
            ),
            ("SOURCE_DATE_EPOCH", "1700000000"),
            ("LADING_SIGNING_KEY", ED25519_KEY),
        ]);
        for (key, value) in self.server.aws_env() {
            command.env(key, value);
        }
        command
    }

    /// Pack the three packages into `out-<label>/`, as attempt `attempt`.
    fn pack(&self, label: &str, attempt: &str) -> Vec<PathBuf> {
        let packages: [(&str, &[&str]); 3] = [
            (
                "generic",
                &[
                    "--format",
                    "tar.gz",
                    "--name",
                    "app",
                    "--version",
                    "1.0.0",
                    "--base",
                    "generic",
                    "dist/**",
                ],
            ),
            ("npm", &["--format", "npm", "--base", "npm"]),
            (
                "maven",
                &[
                    "--format",
                    "maven",
                    "--name",
                    "com.acme:rerun",
                    "--version",
                    "1.0.0",
                    "--base",
                    "maven",
                ],
            ),
        ];
        packages
            .iter()
            .map(|(name, args)| {
                let out = self.root.join(format!("out-{label}")).join(name);
                support::run_ok(
                    self.lading(attempt)
                        .arg("pack")
                        .args(*args)
                        .arg("--out")
                        .arg(&out),
                );
                out
            })
            .collect()
    }

    /// [`Job::publish`], which must succeed.
    fn publish_ok(&self, dir: &Path, attempt: &str) -> Output {
        let output = self.publish(dir, attempt);
        assert!(output.status.success(), "{}", describe(&output));
        output
    }

    fn publish(&self, dir: &Path, attempt: &str) -> Output {
        support::run(
            self.lading(attempt)
                .arg("publish")
                .arg(dir)
                .arg("--json")
                .args(codeartifact(&self.server)),
        )
    }
}

/// The one file in `dir` whose name ends with `suffix`.
fn file_ending(dir: &Path, suffix: &str) -> PathBuf {
    fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()))
}

/// Every (file, outcome, note) of a `--json` publish report.
fn outcomes(output: &Output) -> Vec<(String, String, String)> {
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", describe(output)));
    support::publish_report_files(&report)
}

/// Every (file, note) of a `--json` publish report, each of which must be already published.
fn already_published(output: &Output) -> Vec<(String, String)> {
    outcomes(output)
        .into_iter()
        .map(|(file, outcome, note)| {
            assert_eq!(outcome, "already_published", "{file}: {}", describe(output));
            (file, note)
        })
        .collect()
}

fn sha256_of(path: &Path) -> String {
    support::sha256_hex(&fs_err::read(path).unwrap())
}

#[test]
fn a_rerun_packs_the_same_bytes_and_publishes_as_already_published() {
    let job = Job::new();
    let first = job.pack("first", "1");
    for dir in &first {
        let output = job.publish_ok(dir, "1");
        assert!(
            outcomes(&output)
                .iter()
                .all(|(_, outcome, _)| outcome == "published"),
            "{}",
            describe(&output)
        );
    }
    // The same attempt again (a rerun on the same clone): the same bytes, provenance included
    // (no wall-clock time in it), so every file is already published and identical.
    let again = job.pack("again", "1");
    for (first, again) in first.iter().zip(&again) {
        let provenance = file_ending(first, ".intoto.jsonl");
        let name = provenance.file_name().unwrap();
        assert_eq!(
            fs_err::read(&provenance).unwrap(),
            fs_err::read(again.join(name)).unwrap(),
            "{} differs between two packs of the same inputs",
            name.to_string_lossy()
        );
        let output = job.publish_ok(again, "1");
        for (file, note) in already_published(&output) {
            assert_eq!(note, "", "{file}");
        }
    }
}

#[test]
fn a_retried_ci_attempt_keeps_the_earlier_provenance_and_other_bytes_still_fail() {
    let job = Job::new();
    let first = job.pack("attempt-1", "1");
    for dir in &first {
        job.publish_ok(dir, "1");
    }
    // Attempt 2 of the same run: the artifacts are the same bytes, the provenance records the
    // other attempt (run metadata only).
    let retried = job.pack("attempt-2", "2");
    for (first, retried) in first.iter().zip(&retried) {
        let provenance = file_ending(first, ".intoto.jsonl");
        let name = provenance.file_name().unwrap();
        assert_ne!(
            sha256_of(&provenance),
            sha256_of(&retried.join(name)),
            "the attempt should be in the provenance"
        );
        let output = job.publish_ok(retried, "2");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("is already published")
                && stderr.contains("provenance from an earlier run kept"),
            "{stderr}"
        );
        for (file, note) in already_published(&output) {
            assert_eq!(
                note.starts_with("provenance from an earlier run kept"),
                file.ends_with(".intoto.jsonl"),
                "{file}: {note}"
            );
        }
        // The repository still holds attempt 1's provenance, byte for byte (its signature
        // untouched): attempt 1's files are identical to what is there.
        let output = job.publish_ok(first, "1");
        for (file, outcome, note) in outcomes(&output) {
            assert_eq!(
                (outcome.as_str(), note.as_str()),
                ("already_published", ""),
                "{file}"
            );
        }
    }
    // A different artifact byte is still a conflict, named with both digests.
    fs_err::write(job.root.join("generic/dist/app.txt"), "generic two\n").unwrap();
    let changed = job.pack("attempt-3", "3");
    let archive = "app-1.0.0.tar.gz";
    let output = job.publish(&changed[0], "3");
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "`{archive}` differs from what the repository already has"
        )) && stderr.contains(&format!("sha256:{}", sha256_of(&first[0].join(archive))))
            && stderr.contains(&format!("sha256:{}", sha256_of(&changed[0].join(archive)))),
        "{stderr}"
    );
}

/// `lading login` against `endpoint`, with keys that would be accepted.
fn login_at(endpoint: &str) -> Output {
    let home = tempfile::tempdir().unwrap();
    support::run(
        support::clean_command(support::lading_bin(), home.path())
            .current_dir(home.path())
            .args([
                "login",
                "--tool",
                "npm",
                "--target",
                "ephemeral",
                "--dir",
                "login",
            ])
            .args([
                "--domain",
                "local",
                "--repository",
                "main",
                "--region",
                "us-east-1",
            ])
            .args(["--endpoint-url", endpoint])
            .env("AWS_ACCESS_KEY_ID", "LKIAUNREACHABLE00001")
            .env("AWS_SECRET_ACCESS_KEY", "unreachable")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    )
}

/// `output` is a transient failure (exit 3) naming the unreachable `endpoint`, saying `why`,
/// with the hint to start `lading serve`; returns its stderr.
fn unreachable(output: &Output, endpoint: &str, why: &str) -> String {
    assert_eq!(output.status.code(), Some(3), "{}", describe(output));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains(&format!(
            "cannot reach the CodeArtifact endpoint {endpoint}"
        )) && stderr.contains(why)
            && stderr.contains("hint: start the embedded repository with `lading serve`"),
        "{stderr}"
    );
    stderr
}

#[test]
fn an_unreachable_endpoint_is_named_with_what_listens_there_and_a_hint() {
    let port = support::peers::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let stderr = unreachable(
        &login_at(&endpoint),
        &endpoint,
        &format!("nothing listens at 127.0.0.1:{port} (connection refused)"),
    );
    assert!(
        stderr.contains("`--endpoint-url`") && !stderr.contains("dispatch failure"),
        "{stderr}"
    );

    // Something listens but hangs up without answering: said so, with the same hint.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hang_up = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            for connection in listener.incoming() {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                drop(connection);
            }
        })
    };
    let output = login_at(&format!("http://{address}"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = std::net::TcpStream::connect(address);
    hang_up.join().unwrap();
    unreachable(
        &output,
        &format!("http://{address}"),
        &format!("something listens at {address} but did not answer"),
    );
}

#[test]
fn help_lists_every_protocol_serve_speaks_at_the_urls_the_aws_cli_is_given() {
    let _aws = crate::require_tool!(support::aws());
    let help = |args: &[&str]| {
        let output = support::run_ok(std::process::Command::new(support::lading_bin()).args(args));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let top = help(&["--help"]);
    assert!(
        top.contains("CodeArtifact\ncontrol-plane API")
            || top.contains("CodeArtifact control-plane API"),
        "{top}"
    );
    assert!(
        top.replace('\n', " ").contains(
            "the npm, Maven, NuGet v3, PyPI, cargo, RubyGems, Swift and generic protocols"
        ),
        "{top}"
    );
    let serve = help(&["serve", "--help"]);
    let listed: Vec<&str> = serve
        .lines()
        .filter_map(|line| line.split("http://HOST/d/DOMAIN/").nth(1))
        .filter_map(|rest| rest.split('/').next())
        .collect();
    assert_eq!(
        listed,
        [
            "npm", "maven", "nuget", "pypi", "cargo", "ruby", "swift", "generic"
        ],
        "{serve}"
    );
    assert!(
        serve.contains("CodeArtifact  http://HOST/ (control-plane API"),
        "{serve}"
    );
    // Each is what the real AWS CLI gets from GetRepositoryEndpoint for that format.
    let dir = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&dir.path().join("serve"), ServerSpec::default());
    for format in listed {
        assert_eq!(
            server.repository_endpoint(dir.path(), format),
            format!("{}/d/local/{format}/main/", server.url),
            "{format}"
        );
    }
}

const ENV_VARS_BEGIN: &str = "<!-- env-vars: begin (generated from src/env_vars.rs) -->\n";
const ENV_VARS_END: &str = "<!-- env-vars: end -->\n";

/// The README's table of environment variables, rendered from `src/env_vars.rs`: every
/// `pub const NAME: &'static str = "VALUE";` of `EnvVars` in source order, with its doc
/// comment.
fn env_var_table(source: &str) -> String {
    let mut table = String::from("| variable | what lading does with it |\n| --- | --- |\n");
    let mut docs: Vec<String> = Vec::new();
    let mut statement: Option<String> = None;
    for line in source.lines().map(str::trim) {
        if let Some(open) = statement.as_mut() {
            open.push(' ');
            open.push_str(line);
        } else if let Some(doc) = line.strip_prefix("///") {
            docs.push(doc.trim().to_owned());
            continue;
        } else if line.starts_with("pub const ") {
            statement = Some(line.to_owned());
        } else {
            if !line.starts_with("#[") {
                docs.clear();
            }
            continue;
        }
        let Some(text) = statement.as_ref().filter(|text| text.ends_with(';')) else {
            continue;
        };
        if text.contains(": &'static str") {
            let value = text
                .split('=')
                .nth(1)
                .and_then(|rest| rest.split('"').nth(1))
                .unwrap_or_else(|| panic!("no string value in `{text}`"));
            assert!(
                !docs.is_empty(),
                "`{value}` has no doc comment in src/env_vars.rs"
            );
            let _ = writeln!(
                table,
                "| `{value}` | {} |",
                docs.join(" ").replace('|', "\\|")
            );
        }
        statement = None;
        docs.clear();
    }
    table
}

#[test]
fn readme_env_var_table_matches_src_env_vars() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = fs_err::read_to_string(root.join("src/env_vars.rs")).unwrap();
    let table = env_var_table(&source);
    for name in [
        "LADING_LOG",
        "SOURCE_DATE_EPOCH",
        "npm_config_cache",
        "AWS_PROFILE",
    ] {
        assert!(table.contains(&format!("| `{name}` |")), "{table}");
    }
    let readme_path = root.join("README.md");
    let readme = fs_err::read_to_string(&readme_path).unwrap();
    let start = readme
        .find(ENV_VARS_BEGIN)
        .expect("README.md has the env-vars begin marker")
        + ENV_VARS_BEGIN.len();
    let end = start
        + readme[start..]
            .find(ENV_VARS_END)
            .expect("README.md has the env-vars end marker");
    if readme[start..end] == table {
        return;
    }
    if std::env::var_os("LADING_TEST_BLESS").is_some_and(|value| value == "1") {
        fs_err::write(
            &readme_path,
            format!("{}{table}{}", &readme[..start], &readme[end..]),
        )
        .unwrap();
        return;
    }
    panic!(
        "README.md's environment-variable table is not what src/env_vars.rs says; regenerate it with\n  LADING_TEST_BLESS=1 cargo nextest run --test it readme_env\nexpected:\n{table}"
    );
}
