//! Secrets across the whole pipeline: every command at trace verbosity, against `lading
//! serve` configured as a CodeArtifact repository, under `strace -f`. No repository token
//! (`ldt_...`, whichever command minted it) and no AWS secret key may appear in any
//! output, in any process's argv, in the provenance or the GitHub step summary, or in a
//! file that is not 0600.

use std::path::Path;
use std::process::{Command, Output};

use crate::login::{files_where, traced};
use crate::run::copy_tree;
use crate::support::{self, LadingServer, ServerSpec, clean_command, describe, lading_bin};

/// Every repository token in `text` (`ldt_` and at least 20 token characters).
fn tokens_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("ldt_") {
        let token: String = rest[start..]
            .chars()
            .skip(4)
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if token.len() >= 20 {
            found.push(format!("ldt_{token}"));
        }
        rest = &rest[start + 4..];
    }
    found
}

#[cfg(unix)]
#[test]
fn every_command_at_trace_level_keeps_tokens_out_of_output_argv_summary_and_open_files() {
    if support::find_tool("LADING_TEST_STRACE", None, Some("strace")).is_none() {
        return;
    }
    let Some(npm) = support::npm() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let server = LadingServer::start(&work.path().join("repo"), ServerSpec::default());
    let credentials = fs_err::read_to_string(server.credentials_file()).unwrap();
    let secret_key = credentials
        .lines()
        .find_map(|line| line.split_once("aws_secret_access_key"))
        .map(|(_, value)| value.trim_start_matches([' ', '=']).trim().to_owned())
        .unwrap();
    assert!(secret_key.len() >= 20, "{credentials}");

    // The bundled examples, with lading serve as the configured CodeArtifact repository.
    let project = work.path().join("job/examples");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &project,
    );
    let pipeline = fs_err::read_to_string(project.join("lading.yml")).unwrap();
    fs_err::write(
        project.join("lading.yml"),
        format!(
            "repositories:\n  default:\n    kind: codeartifact\n    domain: local\n    repository: main\n    domain_owner: '000000000000'\n    region: us-east-1\n    endpoint_url: {}\n{pipeline}",
            server.url
        ),
    )
    .unwrap();
    let home = work.path().join("job/home");
    let github = work.path().join("job/github");
    fs_err::create_dir_all(&home).unwrap();
    fs_err::create_dir_all(&github).unwrap();
    let lading = |args: &[&str]| -> Command {
        let mut command = clean_command(lading_bin(), &home);
        command.current_dir(&project).args(args);
        command.envs(server.aws_env());
        command
            .env("LADING_LOG", "trace")
            .env(
                "LADING_CACHE_DIR",
                work.path().join("job/cache").display().to_string(),
            )
            .env("npm_config_cache", work.path().join("job/npm-cache"))
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_RUN_ID", "42")
            .env("GITHUB_REPOSITORY", "lading-dev/lading")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
            .env("GITHUB_STEP_SUMMARY", github.join("summary.md"))
            .env("GITHUB_ENV", github.join("env"))
            .env("GITHUB_OUTPUT", github.join("output"));
        command
    };
    let path = std::env::join_paths(
        std::iter::once(npm.parent().unwrap().to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let steps: Vec<Vec<&str>> = vec![
        vec!["run"],
        vec!["cache-key"],
        vec!["doctor", "--tool", "npm", "--tool", "pip"],
        vec![
            "exec",
            "--tool",
            "npm",
            "--",
            "npm",
            "view",
            "lading-example-npm",
            "version",
        ],
        vec!["verify", ".lading/out/0-npm"],
        vec!["logout"],
    ];
    let mut seen = Vec::new();
    for (index, args) in steps.iter().enumerate() {
        let mut command = lading(args);
        command.env("PATH", &path);
        let trace = work.path().join(format!("trace-{index}.txt"));
        let (output, argv) = traced(&mut command, &trace);
        let name = args[0];
        if name != "doctor" {
            assert!(output.status.success(), "{name}: {}", describe(&output));
        }
        if name == "exec" {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(stdout.trim().lines().last(), Some("1.0.0"), "{stdout}");
        }
        // `::add-mask::TOKEN` is how a GitHub Actions step hides a value from the log: the
        // runner consumes the line. It is the one sanctioned appearance.
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .lines()
        .filter(|line| !line.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
        if matches!(name, "run" | "exec") {
            assert!(text.contains("TRACE"), "{name} logged nothing at trace");
        }
        for (what, haystack) in [("output", &text), ("argv", &argv)] {
            assert_eq!(
                tokens_in(haystack),
                Vec::<String>::new(),
                "`lading {name}`: a token in its {what}"
            );
            assert!(
                !haystack.contains(&secret_key),
                "`lading {name}`: the AWS secret key in its {what}"
            );
        }
        seen.push(output);
    }
    // The run published (so it used tokens), and the step summary says so without one.
    check_published(&seen[0]);
    let summary = fs_err::read_to_string(github.join("summary.md")).unwrap_or_default();
    assert!(tokens_in(&summary).is_empty(), "{summary}");
    // `logout` removed the cached token with everything else login wrote (issue #15, item
    // 14): no file holds a token or the secret key now.
    let left = files_where(&work.path().join("job"), |text| {
        !tokens_in(text).is_empty() || text.contains(&secret_key)
    });
    assert!(left.is_empty(), "secrets left after logout: {left:?}");
    // A fresh login caches a token again, so the scan below has one to find.
    support::run_ok(&mut lading(&["login", "--tool", "npm"]));
    // Tokens rest only in 0600 files (login's token cache); provenance holds none.
    let holders = files_where(&work.path().join("job"), |text| {
        !tokens_in(text).is_empty() || text.contains(&secret_key)
    });
    assert!(
        !holders.is_empty(),
        "the token cache should hold the run's token"
    );
    for (path, file_mode) in holders {
        assert_eq!(
            file_mode,
            0o600,
            "`{}` holds a secret with mode {file_mode:o}",
            path.display()
        );
        assert!(
            !path.to_string_lossy().ends_with(".intoto.jsonl"),
            "{}",
            path.display()
        );
    }
}

fn check_published(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("lading-example-npm"),
        "the run should report what it published:\n{stdout}"
    );
}
