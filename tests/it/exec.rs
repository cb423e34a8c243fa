//! `lading exec`: real npm through the credential proxy against `lading serve`, across a
//! server restart whose clock has moved past the first token's expiry.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::require_tool;
use crate::support::{self, clean_command, describe, lading_bin, peers::free_port, run};

/// Start `lading serve` on a fixed port with a clock offset; wait until it answers.
fn serve(data: &Path, port: u16, offset: i64) -> Child {
    let mut child = clean_command(lading_bin(), data.parent().unwrap())
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("LADING_SERVE_CLOCK_OFFSET_SECONDS", offset.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "lading serve exited");
        assert!(Instant::now() < deadline, "lading serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

fn aws_env(command: &mut Command, data: &Path) {
    command
        .env("AWS_SHARED_CREDENTIALS_FILE", data.join("credentials"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

#[test]
fn exec_keeps_a_build_working_after_its_first_token_expired() {
    let npm = require_tool!(support::npm());
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("repo");
    let port = free_port();
    let first = serve(&data, port, 0);
    let endpoint = format!("http://127.0.0.1:{port}");
    let repository = [
        "--endpoint-url",
        endpoint.as_str(),
        "--domain",
        "local",
        "--repository",
        "main",
        "--domain-owner",
        "000000000000",
        "--region",
        "us-east-1",
        "--duration-seconds",
        "900",
    ];
    // A token minted the ordinary way, to show that the restarted server refuses it.
    let mut token = clean_command(lading_bin(), work.path());
    token.arg("token").args(repository);
    aws_env(&mut token, &data);
    let token = String::from_utf8(support::run_ok(&mut token).stdout).unwrap();
    let token = token.trim().to_owned();

    let package = work.path().join("pkg");
    fs_err::create_dir_all(&package).unwrap();
    fs_err::write(
        package.join("package.json"),
        r#"{"name":"lading-exec-demo","version":"1.0.0"}"#,
    )
    .unwrap();
    let npm_dir = npm.parent().unwrap().display().to_string();
    let script = format!(
        r#"set -e
export PATH="{npm_dir}:$PATH"
cp "$NPM_CONFIG_USERCONFIG" "$W/npmrc-copy"
cd "$W/pkg" && npm publish --cache "$W/cache" >/dev/null
touch "$W/published"
while [ ! -f "$W/go" ]; do sleep 0.1; done
npm view lading-exec-demo version --cache "$W/cache2" --fetch-retries 0 > "$W/viewed"
"#
    );
    let mut exec = clean_command(lading_bin(), work.path());
    exec.arg("exec")
        .args(repository)
        .args(["--tool", "npm", "--", "sh", "-c", &script])
        .env("W", work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    aws_env(&mut exec, &data);
    let started = Instant::now();
    let exec = exec.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !work.path().join("published").exists() {
        assert!(Instant::now() < deadline, "the first phase did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The restarted server's clock runs 895 s ahead: within SigV4's 15-minute tolerance, so
    // new tokens can be minted, but past the expiry of every 900 s token minted more than
    // 5 s ago (the proxy's first one was minted when `lading exec` started).
    stop(first);
    let second = serve(&data, port, 895);
    while started.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let direct = work.path().join("direct.npmrc");
    fs_err::write(
        &direct,
        format!(
            "registry={endpoint}/d/local/npm/main/\n//127.0.0.1:{port}/d/local/npm/main/:_authToken={token}\n"
        ),
    )
    .unwrap();
    let refused = run(clean_command(&npm, work.path())
        .args(["view", "lading-exec-demo", "version", "--userconfig"])
        .arg(&direct)
        .arg("--cache")
        .arg(work.path().join("cache3")));
    assert!(!refused.status.success(), "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        describe(&refused)
    );
    fs_err::write(work.path().join("go"), "").unwrap();
    let output = exec.wait_with_output().unwrap();
    stop(second);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(
        fs_err::read_to_string(work.path().join("viewed"))
            .unwrap()
            .trim(),
        "1.0.0"
    );
    // The tools' config pointed at the proxy and held only the placeholder.
    let npmrc = fs_err::read_to_string(work.path().join("npmrc-copy")).unwrap();
    assert!(npmrc.contains("lading-exec-proxy"), "{npmrc}");
    assert!(!npmrc.contains(&token), "{npmrc}");
    assert!(!npmrc.contains(&format!(":{port}/")), "{npmrc}");
}

#[test]
fn exec_passes_the_command_exit_code_through() {
    let work = tempfile::tempdir().unwrap();
    fs_err::write(work.path().join("token"), "static-token").unwrap();
    let output = run(clean_command(lading_bin(), work.path())
        .args([
            "exec",
            "--registry-url",
            "http://127.0.0.1:9/",
            "--token-file",
        ])
        .arg(work.path().join("token"))
        .args([
            "--tool",
            "npm",
            "--",
            "sh",
            "-c",
            "test -f \"$NPM_CONFIG_USERCONFIG\" && exit 42",
        ]));
    assert_eq!(output.status.code(), Some(42), "{}", describe(&output));
}
