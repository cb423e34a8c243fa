//! The format model (`src/format.rs`): the drift it removed between places that each kept
//! their own list of formats and tools, or their own idea of how a format authenticates.
//! See: issue #17.

use crate::support::faults::FaultProxy;
use crate::support::{self, LadingServer, ServerSpec, clean_command, describe, lading_bin, run};

/// `pipeline.tools` takes every tool `lading login --tool` takes: `lading.yml` used to keep
/// its own list, which missed `yarn`, `cargo` and `gradle`.
#[test]
fn pipeline_tools_take_every_login_tool() {
    let work = tempfile::tempdir().unwrap();
    fs_err::write(
        work.path().join("lading.yml"),
        "repositories:\n  default:\n    kind: url\n    url: http://127.0.0.1:9/registry/\n    token_env: LADING_TEST_TOKEN\npipeline:\n  tools: [yarn, cargo, gradle]\n  build: 'env > seen.env'\n  publish: false\n",
    )
    .unwrap();
    let output = run(clean_command(lading_bin(), work.path())
        .current_dir(work.path())
        .arg("run")
        .env("CI", "true")
        .env("LADING_TEST_TOKEN", "format-model-token"));
    assert!(output.status.success(), "{}", describe(&output));
    // The build ran with each tool pointed at the registry.
    let seen = fs_err::read_to_string(work.path().join("seen.env")).unwrap();
    for variable in [
        "YARN_NPM_REGISTRY_SERVER=http://127.0.0.1:9/registry/",
        "CARGO_REGISTRIES_LADING_INDEX=sparse+http://127.0.0.1:9/registry/",
        "LADING_GRADLE_INIT_SCRIPT=",
    ] {
        assert!(seen.contains(variable), "{variable} missing from:\n{seen}");
    }
}

/// `lading exec` sends a cargo registry the token as cargo itself and `lading restore` do,
/// `Bearer`, not as Basic auth (which only npm escaped before).
#[test]
fn exec_proxy_sends_cargo_a_bearer_token() {
    let curl = crate::require_tool!(support::find_tool("LADING_TEST_CURL", None, Some("curl")));
    let work = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&work.path().join("repo"), ServerSpec::default());
    // Between the tool and the server, recording every request's headers. The server
    // names its endpoints after the `Host` it is asked on, so the data-plane requests of
    // the `lading exec` proxy come back through this one.
    let recorder = FaultProxy::start(&server.url, Vec::new());
    let script = format!(
        r#"exec "{curl}" -sS -o /dev/null -H "Authorization: $LADING_EXEC_PLACEHOLDER" "$LADING_REPOSITORY_URL/cargo/config.json""#,
        curl = curl.display()
    );
    let mut exec = clean_command(lading_bin(), work.path());
    exec.args([
        "exec",
        "--endpoint-url",
        &recorder.url,
        "--domain",
        "local",
        "--repository",
        "main",
        "--domain-owner",
        "000000000000",
        "--region",
        "us-east-1",
        "--tool",
        "cargo",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .envs(server.aws_env());
    let output = run(&mut exec);
    assert!(output.status.success(), "{}", describe(&output));
    let cargo: Vec<_> = recorder
        .exchanges()
        .into_iter()
        .filter(|exchange| exchange.path.contains("/cargo/"))
        .collect();
    assert!(!cargo.is_empty(), "{:#?}", recorder.exchanges());
    for exchange in cargo {
        let authorization = exchange
            .headers
            .iter()
            .find(|(name, _)| name == "authorization")
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        assert!(
            authorization.starts_with("Bearer ldt_"),
            "{} {}: `{authorization}`",
            exchange.method,
            exchange.path
        );
    }
}
