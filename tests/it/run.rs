//! `lading run`: the pipeline from `lading.yml` over the bundled example projects, against the
//! embedded repository and against `lading serve` named in the config; failure handling; and
//! the README's first command, run exactly as written.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{self, LadingServer, ServerSpec, clean_command, describe, lading_bin, run};

/// The repository's `examples/` directory.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Copy `from` into `to`, skipping what a run writes (`.lading/`, built wheels).
pub fn copy_tree(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".lading" || (name == "dist" && from.ends_with("pypi")) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs_err::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The `lading run: step ...` lines of a run's stderr, in order.
fn steps(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| line.strip_prefix("lading run: step "))
        .map(str::to_owned)
        .collect()
}

/// The port in `http://127.0.0.1:PORT` from the run's first line.
fn embedded_url(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.contains("using the embedded repository at "))
        .unwrap_or_else(|| panic!("no embedded repository line\n{}", describe(output)));
    line.split("using the embedded repository at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned()
}

const PACKAGES: [(&str, &str, &str); 5] = [
    ("0-npm", "lading-example-npm", "npm"),
    (
        "1-lading-example-generic",
        "lading-example-generic",
        "tar.gz",
    ),
    (
        "2-com.example_lading-example",
        "com.example:lading-example",
        "maven",
    ),
    ("3-Lading.Example", "Lading.Example", "nuget"),
    ("4-pypi", "lading-example", "pypi"),
];

/// Check a finished run of `examples/lading.yml` in `root` (the examples directory); a rerun
/// (same inputs, same repository) reports every package as already published.
fn check_example_run(output: &Output, root: &Path, rerun: bool) {
    let steps = steps(output);
    let names: Vec<&str> = steps
        .iter()
        .map(|step| step.split('`').nth(1).unwrap_or_default())
        .collect();
    let mut expected = vec![
        "login", "restore", "build", "pack", "pack", "pack", "pack", "pack",
    ];
    expected.extend(["publish"; 5]);
    expected.push("logout");
    assert_eq!(names, expected, "{}", describe(output));
    let url = embedded_url(output);
    let wiring = format!(
        "--endpoint-url {url} --domain local --repository main --domain-owner 000000000000 --region us-east-1"
    );
    assert!(steps[0].starts_with("`login`: lading login --tool npm --tool pip --target ephemeral"));
    assert!(steps[0].ends_with(&wiring), "{}", steps[0]);
    assert_eq!(
        steps[1],
        format!("`restore`: lading restore --dir npm {wiring}")
    );
    assert_eq!(
        steps[8],
        format!("`publish`: lading publish .lading/out/0-npm {wiring} --json")
    );
    // Every package was packed and verifies.
    for (dir, name, format) in PACKAGES {
        let dir = root.join(".lading/out").join(dir);
        let home = tempfile::tempdir().unwrap();
        let verify = run(clean_command(lading_bin(), home.path())
            .args(["verify", "--json"])
            .arg(&dir));
        assert!(
            verify.status.success(),
            "{}: {}",
            dir.display(),
            describe(&verify)
        );
        let manifest = fs_err::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.to_string_lossy().ends_with(".manifest.json"))
            .unwrap();
        let manifest: serde_json::Value =
            serde_json::from_str(&fs_err::read_to_string(manifest).unwrap()).unwrap();
        assert_eq!(manifest["name"], name);
        assert_eq!(manifest["format"], format);
    }
    // Logout undid login: no config file is left behind.
    let login_dir = root.join(".lading/run/login");
    for file in ["npmrc", "pip.conf", "netrc", "env.sh"] {
        assert!(!login_dir.join(file).exists(), "{file} left after logout");
    }
    assert!(root.join(".lading/repo/credentials").is_file());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", describe(output));
    for (_, name, format) in PACKAGES {
        let line = format!("published {name} 1.0.0 ({format})");
        let expected = if rerun {
            format!("already {line}, identical: nothing sent")
        } else {
            line
        };
        assert!(
            stdout.lines().any(|printed| printed == expected),
            "expected `{expected}`:\n{}",
            describe(output)
        );
    }
}

#[test]
fn run_embedded_pipeline_packs_every_example_and_publishes_and_a_rerun_succeeds() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("examples");
    copy_tree(&examples(), &root);
    let output = run(clean_command(lading_bin(), work.path())
        .args(["run", "--config"])
        .arg(root.join("lading.yml"))
        .env("npm_config_cache", work.path().join("npm-cache")));
    check_example_run(&output, &root, false);
    // The same job again on the same checkout (a retried CI job): nothing new to publish,
    // every package already there and identical, exit 0.
    let output = run(clean_command(lading_bin(), work.path())
        .args(["run", "--config"])
        .arg(root.join("lading.yml"))
        .env("npm_config_cache", work.path().join("npm-cache")));
    check_example_run(&output, &root, true);
}

#[test]
fn run_stops_at_a_failing_build_with_its_exit_code_and_still_logs_out() {
    let work = tempfile::tempdir().unwrap();
    fs_err::write(
        work.path().join("lading.yml"),
        "pipeline:\n  tools: [npm]\npackages:\n  - format: tar.gz\n    name: never\n    version: 1.0.0\n    files: ['*.yml']\n",
    )
    .unwrap();
    let output = run(clean_command(lading_bin(), work.path())
        .current_dir(work.path())
        .args(["run", "--", "echo building; exit 7"]));
    assert_eq!(output.status.code(), Some(7), "{}", describe(&output));
    let names: Vec<String> = steps(&output)
        .iter()
        .map(|step| step.split('`').nth(1).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["login", "build", "logout"], "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("building"));
    assert!(!work.path().join(".lading/run/login/npmrc").exists());
    assert!(!work.path().join(".lading/out").exists());
}

#[test]
fn run_a_failing_pack_stops_the_run_with_exit_1() {
    let work = tempfile::tempdir().unwrap();
    fs_err::write(
        work.path().join("lading.yml"),
        "packages:\n  - format: tar.gz\n    name: app\n    version: 1.0.0\n    files: ['missing/**']\n  - format: tar.gz\n    name: second\n    version: 1.0.0\n    files: ['*.yml']\n",
    )
    .unwrap();
    let output = run(clean_command(lading_bin(), work.path())
        .current_dir(work.path())
        .args(["run", "--no-publish"]));
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: step `pack` failed"), "{stderr}");
    assert_eq!(steps(&output).len(), 1, "{stderr}");
}

#[test]
fn run_forwards_the_configured_repository_to_every_step() {
    let work = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&work.path().join("repo"), ServerSpec::default());
    let project = work.path().join("project");
    fs_err::create_dir_all(project.join("dist")).unwrap();
    fs_err::write(project.join("dist/a.txt"), "a").unwrap();
    fs_err::write(
        project.join("lading.yml"),
        format!(
            "repositories:\n  default:\n    kind: codeartifact\n    domain: local\n    repository: main\n    domain_owner: '000000000000'\n    region: us-east-1\n    endpoint_url: {}\npipeline:\n  tools: [npm]\npackages:\n  - format: zip\n    name: app\n    version: 2.0.0\n    files: ['dist/**']\n",
            server.url
        ),
    )
    .unwrap();
    let mut command = clean_command(lading_bin(), work.path());
    command.current_dir(&project).args([
        "run",
        "--no-publish",
        "--",
        "sh",
        "-c",
        "test -f \"$NPM_CONFIG_USERCONFIG\"",
    ]);
    for (name, value) in server.aws_env() {
        command.env(name, value);
    }
    let output = run(&mut command);
    assert!(output.status.success(), "{}", describe(&output));
    let steps = steps(&output);
    let config = project.join("lading.yml");
    assert!(
        steps[0].ends_with(&format!("--config {}", config.display())),
        "{steps:?}"
    );
    // The build saw login's exported config: `test -f` succeeded.
    assert_eq!(
        steps[1],
        "`build`: sh -c test -f \"$NPM_CONFIG_USERCONFIG\""
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "packed app 2.0.0 (zip)"
    );
    assert!(
        !project.join(".lading/repo").exists(),
        "embedded repository started"
    );
}

/// The first command of the README's first `sh` block.
fn readme_first_command() -> String {
    let readme =
        fs_err::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has a ```sh block");
    block
        .lines()
        .find(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .unwrap()
        .to_owned()
}

#[test]
fn readme_first_command_runs_the_pipeline_on_the_examples() {
    let command = readme_first_command();
    assert!(
        command.contains(" run ") && command.contains("examples/lading.yml"),
        "the README's first command should be the example pipeline: {command}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let _ = fs_err::remove_dir_all(root.join("examples/.lading"));
    let _ = fs_err::remove_dir_all(root.join("examples/pypi/dist"));
    let cache = tempfile::tempdir().unwrap();
    let mut shell = std::process::Command::new("sh");
    shell
        .arg("-c")
        .arg(&command)
        .current_dir(root)
        .env("npm_config_cache", cache.path())
        .env("NO_COLOR", "1");
    for name in [
        "LADING_CONFIG",
        "LADING_LOGIN_DIR",
        "LADING_LOGIN_STATE",
        "CI",
        "GITHUB_ACTIONS",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        shell.env_remove(name);
    }
    let output = support::run(&mut shell);
    check_example_run(&output, &root.join("examples"), false);
    // Run it again as written, `.lading/` kept: a rerun of the same job succeeds.
    let output = support::run(&mut shell);
    check_example_run(&output, &root.join("examples"), true);
}

/// The `sh` block of the README's "The two commands": the server command (its first line),
/// and what "another shell" runs (every line after the comment), as written.
fn readme_two_commands() -> (String, String) {
    let readme =
        fs_err::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("## The two commands")
        .nth(1)
        .and_then(|section| section.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("README has `## The two commands` with a ```sh block");
    let mut lines = block.lines();
    let server = lines.next().unwrap().to_owned();
    let comment = lines.next().unwrap();
    assert!(comment.starts_with("# in another shell"), "{block}");
    (server, lines.collect::<Vec<_>>().join("\n"))
}

#[test]
fn readme_two_commands_run_verbatim_from_the_top_of_the_repository() {
    let aws = crate::require_tool!(support::aws());
    let npm = crate::require_tool!(support::npm());
    let (server, client) = readme_two_commands();
    assert!(
        server.starts_with("cargo run -- ") && !server.contains("--release"),
        "the server is the quickstart's build: {server}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // As on a fresh clone: no `.lading/` at the top.
    let _ = fs_err::remove_dir_all(root.join(".lading"));
    let home = tempfile::tempdir().unwrap();
    // The README's port, unless something else on this machine holds it.
    let (port, client) = if std::net::TcpListener::bind("127.0.0.1:8470").is_ok() {
        (8470, client)
    } else {
        let port = support::peers::free_port();
        (
            port,
            client.replace("127.0.0.1:8470", &format!("127.0.0.1:{port}")),
        )
    };
    let path = std::env::join_paths(
        [aws.parent().unwrap(), npm.parent().unwrap()]
            .into_iter()
            .map(Path::to_path_buf)
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let mut serve = std::process::Command::new("sh");
    std::os::unix::process::CommandExt::process_group(&mut serve, 0);
    serve
        .arg("-c")
        .arg(&server)
        .current_dir(root)
        .env("LADING_SERVE_LISTEN", format!("127.0.0.1:{port}"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for name in ["LADING_SERVE_DATA", "LADING_SERVE_CONFIG", "LADING_CONFIG"] {
        serve.env_remove(name);
    }
    let mut serve = serve.spawn().unwrap();
    let stop = |serve: &mut std::process::Child| {
        let _ = std::process::Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{}", serve.id())])
            .status();
        let _ = serve.wait();
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline || serve.try_wait().unwrap().is_some() {
            stop(&mut serve);
            panic!("`{server}` did not listen on 127.0.0.1:{port}");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let output = support::run(
        clean_command("sh", home.path())
            .arg("-c")
            .arg(&client)
            .current_dir(root)
            .env("PATH", path)
            .env("npm_config_cache", home.path().join("npm-cache")),
    );
    stop(&mut serve);
    assert!(output.status.success(), "{client}\n{}", describe(&output));
    assert!(
        root.join(".lading/try/node_modules/lading-example-npm/package.json")
            .is_file(),
        "{}",
        describe(&output)
    );
    // The token went to the per-shell config, never to the user's `~/.npmrc`.
    assert!(!home.path().join(".npmrc").exists());
    let npmrc = fs_err::read_to_string(root.join(".lading/npmrc")).unwrap();
    assert!(npmrc.contains(&format!("//127.0.0.1:{port}/d/local/npm/main/:_authToken=")));
    let _ = fs_err::remove_dir_all(root.join(".lading"));
}
