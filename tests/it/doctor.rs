//! `lading doctor` after `lading login` against `lading serve`: npm, pip, Maven and nuget.exe
//! report the repository, the config file that decides it, and auth, without the token.

use std::path::Path;

use crate::support::{self, LadingServer, ServerSpec, clean_command, describe, lading_bin};

#[test]
fn doctor_reports_what_each_tool_uses_after_login_without_the_token() {
    let npm = crate::require_tool!(support::npm());
    let python = crate::require_tool!(support::python());
    let work = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&work.path().join("repo"), ServerSpec::default());
    let login_dir = work.path().join("login");
    let mut login = clean_command(lading_bin(), work.path());
    login
        .args([
            "login", "--tool", "npm", "--tool", "pip", "--tool", "maven", "--tool", "nuget",
        ])
        .args(["--target", "ephemeral", "--dir"])
        .arg(&login_dir)
        .arg("--state-file")
        .arg(login_dir.join("state.json"))
        .args(["--print-env", "sh", "--endpoint-url", &server.url])
        .args([
            "--domain",
            "local",
            "--repository",
            "main",
            "--domain-owner",
            "000000000000",
        ])
        .args(["--region", "us-east-1"]);
    for (name, value) in server.aws_env() {
        login.env(name, value);
    }
    let output = support::run_ok(&mut login);
    let exports = lading::commands::run::parse_sh_exports(&String::from_utf8_lossy(&output.stdout));
    let npmrc = fs_err::read_to_string(login_dir.join("npmrc")).unwrap();
    let token = npmrc
        .split("_authToken=")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap()
        .to_owned();
    assert!(token.len() > 10);

    let mut doctor = clean_command(lading_bin(), work.path());
    doctor.args(["doctor", "--json"]);
    let npm_dir = npm.parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(npm_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    doctor
        .env("PATH", path)
        .env("LADING_DOCTOR_PYTHON", &python)
        .envs(exports.iter().map(|(name, value)| (name, value)));
    let nuget_exe = support::find_tool("LADING_TEST_NUGET_EXE", None, None);
    if let Some(exe) = &nuget_exe {
        doctor.env("LADING_DOCTOR_NUGET_EXE", exe);
    }
    let output = support::run(&mut doctor);
    assert!(output.status.success(), "{}", describe(&output));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains(&token), "the token leaked: {all}");
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let report = |tool: &str| {
        reports
            .as_array()
            .unwrap()
            .iter()
            .find(|report| report["tool"] == tool)
            .unwrap()
            .clone()
    };
    let base = format!("{}/d/local", server.url);
    let npm_report = report("npm");
    assert_eq!(
        npm_report["registry"],
        format!("{base}/npm/main/"),
        "{npm_report}"
    );
    assert_eq!(
        npm_report["config_file"],
        login_dir.join("npmrc").display().to_string()
    );
    assert!(
        npm_report["auth"]
            .as_str()
            .unwrap()
            .starts_with("_authToken for this registry"),
        "{npm_report}"
    );
    let pip_report = report("pip");
    assert!(
        pip_report["registry"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/pypi/main/")),
        "{pip_report}"
    );
    assert_eq!(
        pip_report["config_file"],
        login_dir.join("pip.conf").display().to_string(),
        "{pip_report}"
    );
    assert!(
        pip_report["auth"]
            .as_str()
            .unwrap()
            .starts_with("netrc entry"),
        "{pip_report}"
    );
    let maven_report = report("maven");
    assert!(
        maven_report["registry"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("{base}/maven/main/")),
        "{maven_report}"
    );
    assert!(
        maven_report["auth"]
            .as_str()
            .unwrap()
            .starts_with("password for server id"),
        "{maven_report}"
    );
    if nuget_exe.is_some() && Path::new("/usr/bin/mono").exists() {
        let nuget_report = report("nuget");
        assert_eq!(nuget_report["found"], true, "{nuget_report}");
        assert!(
            nuget_report["registry"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("{base}/nuget/main/")),
            "{nuget_report}"
        );
    }
}
