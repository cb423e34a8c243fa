//! The CI platform lading runs on: detection from the environment (GitHub Actions, AWS
//! CodeBuild, Jenkins, else local) and the run identity provenance records.
//!
//! Detection follows ci-info (what npm uses): `GITHUB_ACTIONS`, `CODEBUILD_BUILD_ARN`,
//! `JENKINS_URL` together with `BUILD_ID`. Builder ids and build types are URIs; GitHub's
//! are the ones npm's provenance uses, the others are lading's own:
//!
//! | platform | `builder.id` | `invocationId` | `buildType` |
//! | --- | --- | --- | --- |
//! | GitHub Actions | `https://github.com/actions/runner/<RUNNER_ENVIRONMENT>` | `<server>/<repo>/actions/runs/<id>/attempts/<n>` | [`GITHUB_BUILD_TYPE`] |
//! | CodeBuild | `arn:aws:codebuild:<region>:<account>:project/<project>` | `CODEBUILD_BUILD_ARN` | [`CODEBUILD_BUILD_TYPE`] |
//! | Jenkins | `JENKINS_URL` | `BUILD_URL` | [`JENKINS_BUILD_TYPE`] |
//! | local | [`LOCAL_BUILDER_ID`] | none | [`LOCAL_BUILD_TYPE`] |

pub mod export;

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use crate::env_vars::EnvVars;

/// GitHub Actions workflow build type (as npm and the SLSA GitHub generator use it).
pub const GITHUB_BUILD_TYPE: &str =
    "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1";
/// lading's build type for a CodeBuild build: external parameters are the project, the
/// source repository and version, and the initiator.
pub const CODEBUILD_BUILD_TYPE: &str = "https://lading.dev/buildtypes/codebuild/v1";
/// lading's build type for a Jenkins build: external parameters are the job and Git source.
pub const JENKINS_BUILD_TYPE: &str = "https://lading.dev/buildtypes/jenkins/v1";
/// lading's build type for a build outside any detected CI.
pub const LOCAL_BUILD_TYPE: &str = "https://lading.dev/buildtypes/local/v1";
/// Builder id of a build outside any detected CI (SLSA Build L1 at most: nothing vouches
/// for the machine).
pub const LOCAL_BUILDER_ID: &str = "https://lading.dev/builders/local";

/// The detected platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// GitHub Actions.
    GithubActions,
    /// AWS CodeBuild.
    Codebuild,
    /// Jenkins.
    Jenkins,
    /// No CI detected.
    Local,
}

/// The source a build came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Source {
    /// Repository URL (`https://github.com/acme/tool`).
    pub repository: Option<String>,
    /// Full ref (`refs/tags/v1.2.3`) or branch name.
    pub git_ref: Option<String>,
    /// Short ref name (`v1.2.3`, `main`).
    pub ref_name: Option<String>,
    /// 40-hex commit id.
    pub commit: Option<String>,
}

impl Source {
    /// The `resolvedDependencies` entry for the source: `git+<repo>@<ref>` with `gitCommit`.
    #[must_use]
    pub fn resolved_dependency(&self) -> Option<Value> {
        let commit = self.commit.as_ref()?;
        let mut uri = self.repository.as_ref().map_or_else(
            || "git+unknown".to_owned(),
            |repository| {
                if repository.starts_with("git+") {
                    repository.clone()
                } else {
                    format!("git+{repository}")
                }
            },
        );
        if let Some(git_ref) = &self.git_ref {
            uri.push('@');
            uri.push_str(git_ref);
        }
        Some(json!({"uri": uri, "digest": {"gitCommit": commit}}))
    }
}

/// Who ran the build, as provenance records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunIdentity {
    /// The platform.
    pub platform: Platform,
    /// `runDetails.builder.id`.
    pub builder_id: String,
    /// `runDetails.metadata.invocationId`.
    pub invocation_id: Option<String>,
    /// `buildDefinition.buildType`.
    pub build_type: String,
    /// `buildDefinition.externalParameters`.
    pub external_parameters: Value,
    /// `buildDefinition.internalParameters`.
    pub internal_parameters: Value,
    /// The source commit.
    pub source: Source,
    /// Run number or id, for templates (`{{ ci.run_number }}`).
    pub run_number: Option<String>,
}

impl RunIdentity {
    /// Detect from the process environment; `dir` is where `git` is asked for the commit when
    /// the CI does not say.
    #[must_use]
    pub fn detect(dir: &Path) -> Self {
        let mut identity = Self::from_env(&|name| EnvVars::get(name));
        identity.fill_from_git(dir);
        identity
    }

    /// Detect from a variable lookup (the environment, or a table in tests).
    #[must_use]
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        if get(EnvVars::GITHUB_ACTIONS).is_some() {
            github(&get)
        } else if get(EnvVars::CODEBUILD_BUILD_ARN).is_some() {
            codebuild(&get)
        } else if get(EnvVars::JENKINS_URL).is_some() && get(EnvVars::BUILD_ID).is_some() {
            jenkins(&get)
        } else {
            Self {
                platform: Platform::Local,
                builder_id: LOCAL_BUILDER_ID.to_owned(),
                invocation_id: None,
                build_type: LOCAL_BUILD_TYPE.to_owned(),
                external_parameters: json!({}),
                internal_parameters: json!({}),
                source: Source::default(),
                run_number: None,
            }
        }
    }

    /// Fill whatever the CI left out (commit, ref, remote) from `git` in `dir`.
    pub fn fill_from_git(&mut self, dir: &Path) {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|output| output.status.success())
                .and_then(|output| String::from_utf8(output.stdout).ok())
                .map(|text| text.trim().to_owned())
                .filter(|text| !text.is_empty())
        };
        if self.source.commit.is_none() {
            self.source.commit = git(&["rev-parse", "HEAD"]);
        }
        if self.source.commit.is_none() {
            return;
        }
        if self.source.git_ref.is_none() {
            self.source.git_ref = git(&["symbolic-ref", "-q", "HEAD"]);
        }
        if self.source.ref_name.is_none() {
            self.source.ref_name = self
                .source
                .git_ref
                .as_deref()
                .map(short_ref)
                .map(ToOwned::to_owned);
        }
        if self.source.repository.is_none() {
            self.source.repository = git(&["config", "--get", "remote.origin.url"]);
        }
        if self.platform == Platform::Local && self.external_parameters == json!({}) {
            self.external_parameters = json!({
                "source": {"repository": self.source.repository, "ref": self.source.git_ref}
            });
        }
    }

    /// The template context: `ci.*` and `git.*` (`{{ ci.ref_name }}`, `{{ git.short_sha }}`).
    #[must_use]
    pub fn template_context(&self) -> Value {
        let sha = self.source.commit.clone();
        let short_sha = sha
            .as_ref()
            .map(|sha| sha.chars().take(7).collect::<String>());
        json!({
            "ci": {
                "platform": self.platform,
                "ref": self.source.git_ref,
                "ref_name": self.source.ref_name,
                "sha": sha,
                "repository": self.source.repository,
                "run_number": self.run_number,
                "invocation_id": self.invocation_id,
            },
            "git": {"sha": sha, "short_sha": short_sha, "ref": self.source.git_ref, "ref_name": self.source.ref_name},
        })
    }
}

fn short_ref(git_ref: &str) -> &str {
    git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref)
}

fn github(get: &dyn Fn(&str) -> Option<String>) -> RunIdentity {
    let server = get(EnvVars::GITHUB_SERVER_URL).unwrap_or_else(|| "https://github.com".to_owned());
    let repository = get(EnvVars::GITHUB_REPOSITORY);
    let repository_url = repository
        .as_ref()
        .map(|repository| format!("{server}/{repository}"));
    let invocation_id = match (&repository_url, get(EnvVars::GITHUB_RUN_ID)) {
        (Some(url), Some(run)) => Some(format!(
            "{url}/actions/runs/{run}/attempts/{}",
            get(EnvVars::GITHUB_RUN_ATTEMPT).unwrap_or_else(|| "1".to_owned())
        )),
        _ => None,
    };
    // `owner/repo/.github/workflows/x.yml@refs/heads/main` → path and ref.
    let workflow_ref = get(EnvVars::GITHUB_WORKFLOW_REF);
    let (workflow_path, workflow_git_ref) = workflow_ref
        .as_deref()
        .map(|workflow| {
            let without_repo = repository
                .as_ref()
                .and_then(|repository| workflow.strip_prefix(&format!("{repository}/")))
                .unwrap_or(workflow);
            match without_repo.split_once('@') {
                Some((path, git_ref)) => (Some(path.to_owned()), Some(git_ref.to_owned())),
                None => (Some(without_repo.to_owned()), None),
            }
        })
        .unwrap_or_default();
    RunIdentity {
        platform: Platform::GithubActions,
        builder_id: format!(
            "https://github.com/actions/runner/{}",
            get(EnvVars::RUNNER_ENVIRONMENT).unwrap_or_else(|| "github-hosted".to_owned())
        ),
        invocation_id,
        build_type: GITHUB_BUILD_TYPE.to_owned(),
        external_parameters: json!({
            "workflow": {
                "ref": workflow_git_ref.or_else(|| get(EnvVars::GITHUB_REF)),
                "repository": repository_url,
                "path": workflow_path,
            }
        }),
        internal_parameters: json!({
            "github": {
                "event_name": get(EnvVars::GITHUB_EVENT_NAME),
                "repository_id": get(EnvVars::GITHUB_REPOSITORY_ID),
                "repository_owner_id": get(EnvVars::GITHUB_REPOSITORY_OWNER_ID),
            }
        }),
        source: Source {
            repository: repository_url,
            git_ref: get(EnvVars::GITHUB_REF),
            ref_name: get(EnvVars::GITHUB_REF_NAME),
            commit: get(EnvVars::GITHUB_SHA),
        },
        run_number: get(EnvVars::GITHUB_RUN_NUMBER),
    }
}

fn codebuild(get: &dyn Fn(&str) -> Option<String>) -> RunIdentity {
    let arn = get(EnvVars::CODEBUILD_BUILD_ARN).unwrap_or_default();
    // arn:aws:codebuild:<region>:<account>:build/<project>:<uuid>
    let builder_id = arn
        .split_once(":build/")
        .and_then(|(prefix, rest)| {
            let project = rest.rsplit_once(':').map_or(rest, |(project, _)| project);
            (!project.is_empty()).then(|| format!("{prefix}:project/{project}"))
        })
        .unwrap_or_else(|| arn.clone());
    let project = builder_id
        .rsplit_once(":project/")
        .map(|(_, project)| project.to_owned());
    let source_version = get(EnvVars::CODEBUILD_SOURCE_VERSION);
    let git_ref = get(EnvVars::CODEBUILD_WEBHOOK_HEAD_REF).or_else(|| {
        source_version
            .clone()
            .filter(|version| !looks_like_commit(version))
    });
    RunIdentity {
        platform: Platform::Codebuild,
        builder_id,
        invocation_id: Some(arn),
        build_type: CODEBUILD_BUILD_TYPE.to_owned(),
        external_parameters: json!({
            "project": project,
            "source": {
                "repository": get(EnvVars::CODEBUILD_SOURCE_REPO_URL),
                "version": source_version,
            },
            "initiator": get(EnvVars::CODEBUILD_INITIATOR),
        }),
        internal_parameters: json!({
            "codebuild": {"build_id": get(EnvVars::CODEBUILD_BUILD_ID)}
        }),
        source: Source {
            repository: get(EnvVars::CODEBUILD_SOURCE_REPO_URL),
            ref_name: git_ref.as_deref().map(short_ref).map(ToOwned::to_owned),
            git_ref,
            commit: get(EnvVars::CODEBUILD_RESOLVED_SOURCE_VERSION),
        },
        run_number: get(EnvVars::CODEBUILD_BUILD_NUMBER),
    }
}

fn jenkins(get: &dyn Fn(&str) -> Option<String>) -> RunIdentity {
    let branch = get(EnvVars::GIT_BRANCH);
    RunIdentity {
        platform: Platform::Jenkins,
        builder_id: get(EnvVars::JENKINS_URL).unwrap_or_default(),
        invocation_id: get(EnvVars::BUILD_URL),
        build_type: JENKINS_BUILD_TYPE.to_owned(),
        external_parameters: json!({
            "job": get(EnvVars::JOB_NAME),
            "source": {"repository": get(EnvVars::GIT_URL), "branch": branch},
        }),
        internal_parameters: json!({
            "jenkins": {"build_id": get(EnvVars::BUILD_ID)}
        }),
        source: Source {
            repository: get(EnvVars::GIT_URL),
            ref_name: branch
                .as_deref()
                .map(|branch| branch.strip_prefix("origin/").unwrap_or(branch).to_owned()),
            git_ref: branch,
            commit: get(EnvVars::GIT_COMMIT),
        },
        run_number: get(EnvVars::BUILD_NUMBER),
    }
}

fn looks_like_commit(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Case {
        env: &'static [(&'static str, &'static str)],
        platform: Platform,
        builder_id: &'static str,
        invocation_id: Option<&'static str>,
        build_type: &'static str,
        commit: Option<&'static str>,
        dependency_uri: Option<&'static str>,
        ref_name: Option<&'static str>,
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn each_ci_gives_its_run_identity() {
        let cases = [
            Case {
                env: &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_SERVER_URL", "https://github.com"),
                    ("GITHUB_REPOSITORY", "acme/tool"),
                    ("GITHUB_RUN_ID", "123456"),
                    ("GITHUB_RUN_ATTEMPT", "2"),
                    ("GITHUB_SHA", SHA),
                    ("GITHUB_REF", "refs/tags/v1.2.3"),
                    ("GITHUB_REF_NAME", "v1.2.3"),
                    (
                        "GITHUB_WORKFLOW_REF",
                        "acme/tool/.github/workflows/release.yml@refs/tags/v1.2.3",
                    ),
                    ("RUNNER_ENVIRONMENT", "self-hosted"),
                ],
                platform: Platform::GithubActions,
                builder_id: "https://github.com/actions/runner/self-hosted",
                invocation_id: Some("https://github.com/acme/tool/actions/runs/123456/attempts/2"),
                build_type: GITHUB_BUILD_TYPE,
                commit: Some(SHA),
                dependency_uri: Some("git+https://github.com/acme/tool@refs/tags/v1.2.3"),
                ref_name: Some("v1.2.3"),
            },
            Case {
                env: &[
                    (
                        "CODEBUILD_BUILD_ARN",
                        "arn:aws:codebuild:eu-west-1:111122223333:build/tool-release:8b4c2f1e-aaaa-bbbb-cccc-1234567890ab",
                    ),
                    (
                        "CODEBUILD_BUILD_ID",
                        "tool-release:8b4c2f1e-aaaa-bbbb-cccc-1234567890ab",
                    ),
                    ("CODEBUILD_RESOLVED_SOURCE_VERSION", SHA),
                    ("CODEBUILD_SOURCE_VERSION", "refs/heads/main"),
                    (
                        "CODEBUILD_SOURCE_REPO_URL",
                        "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/tool",
                    ),
                ],
                platform: Platform::Codebuild,
                builder_id: "arn:aws:codebuild:eu-west-1:111122223333:project/tool-release",
                invocation_id: Some(
                    "arn:aws:codebuild:eu-west-1:111122223333:build/tool-release:8b4c2f1e-aaaa-bbbb-cccc-1234567890ab",
                ),
                build_type: CODEBUILD_BUILD_TYPE,
                commit: Some(SHA),
                dependency_uri: Some(
                    "git+https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/tool@refs/heads/main",
                ),
                ref_name: Some("main"),
            },
            Case {
                env: &[
                    ("JENKINS_URL", "https://ci.acme.example/"),
                    ("BUILD_ID", "42"),
                    ("BUILD_NUMBER", "42"),
                    ("BUILD_URL", "https://ci.acme.example/job/tool/42/"),
                    ("JOB_NAME", "tool"),
                    ("GIT_COMMIT", SHA),
                    ("GIT_URL", "https://github.com/acme/tool.git"),
                    ("GIT_BRANCH", "origin/main"),
                ],
                platform: Platform::Jenkins,
                builder_id: "https://ci.acme.example/",
                invocation_id: Some("https://ci.acme.example/job/tool/42/"),
                build_type: JENKINS_BUILD_TYPE,
                commit: Some(SHA),
                dependency_uri: Some("git+https://github.com/acme/tool.git@origin/main"),
                ref_name: Some("main"),
            },
            Case {
                // BUILD_ID alone (no JENKINS_URL) is not Jenkins.
                env: &[("BUILD_ID", "7")],
                platform: Platform::Local,
                builder_id: LOCAL_BUILDER_ID,
                invocation_id: None,
                build_type: LOCAL_BUILD_TYPE,
                commit: None,
                dependency_uri: None,
                ref_name: None,
            },
        ];
        for case in cases {
            let env: HashMap<&str, &str> = case.env.iter().copied().collect();
            let identity =
                RunIdentity::from_env(&|name| env.get(name).map(|value| (*value).to_owned()));
            assert_eq!(identity.platform, case.platform);
            assert_eq!(identity.builder_id, case.builder_id);
            assert_eq!(identity.invocation_id.as_deref(), case.invocation_id);
            assert_eq!(identity.build_type, case.build_type);
            assert_eq!(identity.source.commit.as_deref(), case.commit);
            assert_eq!(identity.source.ref_name.as_deref(), case.ref_name);
            let dependency = identity.source.resolved_dependency();
            assert_eq!(
                dependency.as_ref().and_then(|value| value["uri"].as_str()),
                case.dependency_uri
            );
        }
    }

    #[test]
    fn github_workflow_ref_is_split_like_npm() {
        let env: HashMap<&str, &str> = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/tool"),
            (
                "GITHUB_WORKFLOW_REF",
                "acme/tool/.github/workflows/release.yml@refs/heads/main",
            ),
        ]
        .into_iter()
        .collect();
        let identity =
            RunIdentity::from_env(&|name| env.get(name).map(|value| (*value).to_owned()));
        assert_eq!(
            identity.external_parameters,
            json!({"workflow": {"ref": "refs/heads/main", "repository": "https://github.com/acme/tool", "path": ".github/workflows/release.yml"}})
        );
    }
}
