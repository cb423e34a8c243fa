//! `lading publish`: read what `lading pack` wrote (or take files and `--format`), check each
//! file against its manifest digest, then hand it to the format's publisher (its `Publish`
//! capability, from the registry: `ecosystem/<format>/publish.rs`), which skips what the repository already has, fails on
//! other bytes, uploads the rest and reads it back. Reports on stderr, `--json` on stdout,
//! and a table in `GITHUB_STEP_SUMMARY` when set.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::cli::{PackFormat, PublishArgs};
use crate::diagnostics::HintedError;
use crate::ecosystem::publish::{
    Auth, FileReport, Files, Outcome, Package, Published, Session, Target, Upload,
};
use crate::ecosystem::registry;
use crate::env_vars::EnvVars;
use crate::format::Format;
use crate::http::{HttpClient, HttpOptions, RetryPolicy};
use crate::printer::Printer;
use crate::repository::Repository;
use crate::repository::codeartifact::CodeArtifact;

/// One package to publish.
#[derive(Debug, Clone)]
struct Job {
    format: Format,
    package: Package,
}

/// The report for one package.
#[derive(Debug, Clone, Serialize)]
struct PackageReport {
    format: &'static str,
    package: String,
    version: String,
    files: Vec<FileReport>,
}

fn read_upload(path: &Path) -> anyhow::Result<Upload> {
    let bytes = fs_err::read(path)?;
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("`{}` has no usable file name", path.display()))?;
    Ok(Upload::new(name, bytes))
}

/// Jobs from every `*.manifest.json` in `dir`.
fn jobs_from_dir(dir: &Path) -> anyhow::Result<Vec<Job>> {
    let mut manifests: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.ends_with(".manifest.json"))
        })
        .collect();
    manifests.sort();
    if manifests.is_empty() {
        bail!(HintedError::new(
            format!("`{}` holds no `*.manifest.json`", dir.display()),
            "run `lading pack --out DIR` first, or pass files with `--format`"
        ));
    }
    let mut jobs = Vec::new();
    for path in manifests {
        let text = fs_err::read_to_string(&path)?;
        let manifest: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not JSON", path.display()))?;
        let format = match manifest["format"].as_str().and_then(PackFormat::from_name) {
            Some(format) => format.format(),
            None => bail!(
                "`{}`: unknown format {:?} (expected {})",
                path.display(),
                manifest["format"].as_str(),
                PackFormat::names()
            ),
        };
        let mut uploads = Vec::new();
        for file in manifest["files"].as_array().into_iter().flatten() {
            let file_name = file["file"]
                .as_str()
                .with_context(|| format!("`{}`: a file entry has no `file`", path.display()))?;
            let upload = read_upload(&dir.join(file_name))?;
            let expected = file["sha256"].as_str().unwrap_or_default();
            if upload.digests.sha256 != expected {
                bail!(HintedError::new(
                    format!(
                        "`{}` changed since `lading pack`: the manifest says sha256:{expected}, the file is sha256:{}",
                        dir.join(file_name).display(),
                        upload.digests.sha256
                    ),
                    "run `lading pack` again; lading publishes only what the manifest describes"
                ));
            }
            uploads.push(upload);
        }
        let provenance = manifest["provenance"]
            .as_str()
            .map(|name| dir.join(name))
            .filter(|path| path.is_file())
            .map(|path| read_upload(&path))
            .transpose()?;
        jobs.push(Job {
            format,
            package: Package {
                namespace: None,
                name: manifest["name"].as_str().map(ToOwned::to_owned),
                version: manifest["version"].as_str().map(ToOwned::to_owned),
                uploads,
                provenance,
            },
        });
    }
    Ok(jobs)
}

fn jobs_from_args(args: &PublishArgs) -> anyhow::Result<Vec<Job>> {
    if let Some(format) = args.format {
        let mut uploads = Vec::new();
        let mut provenance = None;
        for path in &args.paths {
            if path.is_dir() {
                bail!(HintedError::new(
                    format!("`{}` is a directory", path.display()),
                    "with `--format`, pass the files to publish; without it, the directory `lading pack` wrote"
                ));
            }
            let upload = read_upload(path)?;
            if upload.file_name.ends_with(".intoto.jsonl") {
                provenance = Some(upload);
            } else {
                uploads.push(upload);
            }
        }
        let jobs = registry::publisher(format)?
            .packages(Files {
                uploads,
                provenance,
                name: args.name.clone(),
                version: args.version.clone(),
            })?
            .into_iter()
            .map(|package| Job { format, package })
            .collect();
        return Ok(jobs);
    }
    match args.paths.as_slice() {
        [dir] if dir.is_dir() => {
            let mut jobs = jobs_from_dir(dir)?;
            for job in &mut jobs {
                if args.name.is_some() {
                    job.package.name.clone_from(&args.name);
                }
                if args.version.is_some() {
                    job.package.version.clone_from(&args.version);
                }
            }
            Ok(jobs)
        }
        _ => bail!(HintedError::new(
            "pass one directory `lading pack` wrote, or `--format` with files",
            "e.g. `lading publish .lading/out` or `lading publish --format generic --namespace ns --name app --version 1.0 app.zip`"
        )),
    }
}

/// A file-name-safe package name for the provenance package.
fn provenance_package(name: &str) -> String {
    let cleaned: String = name
        .trim_start_matches('@')
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-') {
                character
            } else {
                '-'
            }
        })
        .collect();
    format!("{cleaned}.provenance")
}

async fn publish_job(target: &Target, job: Job) -> anyhow::Result<PackageReport> {
    let Job { format, package } = job;
    let publisher = registry::publisher(format)?;
    let provenance = package
        .provenance
        .clone()
        .filter(|_| publisher.provenance_apart());
    let Published {
        package,
        version,
        mut files,
    } = publisher.publish(target, package).await?;
    if let Some(provenance) = provenance {
        if target.codeartifact.is_some() {
            // A format without a place for it: a generic package beside the package.
            let beside = Package {
                namespace: Some(format.name().to_owned()),
                name: Some(provenance_package(&package)),
                version: Some(version.clone()),
                uploads: vec![provenance],
                provenance: None,
            };
            files.extend(
                registry::publisher(Format::Generic)?
                    .publish(target, beside)
                    .await
                    .context("failed to publish the provenance")?
                    .files,
            );
        } else {
            let mut report = FileReport::new(&provenance, "", Outcome::Skipped);
            report.note =
                Some("a plain registry has no generic format to hold the provenance".to_owned());
            files.push(report);
        }
    }
    files.sort_by(|left, right| left.file.cmp(&right.file));
    Ok(PackageReport {
        format: format.name(),
        package,
        version,
        files,
    })
}

fn summary_table(reports: &[PackageReport], failures: &[String]) -> String {
    let mut text = String::from(
        "### lading publish\n\n| package | version | file | sha256 | result |\n| --- | --- | --- | --- | --- |\n",
    );
    for report in reports {
        for file in &report.files {
            let outcome = match file.outcome {
                Outcome::Published => "published",
                Outcome::AlreadyPublished if file.note.is_some() => {
                    "already published (provenance from an earlier run kept)"
                }
                Outcome::AlreadyPublished => "already published",
                Outcome::WouldPublish => "would publish (dry run)",
                Outcome::Skipped => "skipped",
            };
            let _ = writeln!(
                text,
                "| `{}` | {} | `{}` | `{}…` | {outcome} |",
                report.package,
                report.version,
                file.file,
                file.sha256.get(..12).unwrap_or_default()
            );
        }
    }
    for failure in failures {
        let _ = writeln!(
            text,
            "| | | | | failed: {} |",
            failure.replace('|', "\\|").replace('\n', " ")
        );
    }
    text
}

/// Run `lading publish`.
///
/// # Errors
/// Bad input, a digest conflict, HTTP failures (transient ones after retries, exit 3).
pub async fn run(args: PublishArgs, printer: Printer) -> anyhow::Result<()> {
    let mut jobs = jobs_from_args(&args)?;
    if args.no_provenance {
        for job in &mut jobs {
            job.package.provenance = None;
        }
    }
    let repository = Repository::resolve(&args.repository)
        .context("failed to resolve the repository to publish to")?;
    let credentials = if args.dry_run && matches!(repository, Repository::Url { .. }) {
        repository.credentials().await.ok()
    } else {
        Some(
            repository
                .credentials()
                .await
                .context("failed to get credentials for the repository")?,
        )
    };
    let auth = match credentials {
        Some(credentials) => match credentials.token {
            Some(token) => {
                Auth::Basic(args.username.clone().unwrap_or(credentials.username), token)
            }
            None => Auth::None,
        },
        None => Auth::None,
    };
    let client = HttpClient::new(&HttpOptions {
        retry: RetryPolicy {
            max_attempts: args.retries.max(1),
            ..RetryPolicy::default()
        },
        ..HttpOptions::default()
    })
    .context("failed to build the HTTP client")?;
    let codeartifact = match &repository {
        Repository::CodeArtifact { target, .. } => {
            Some(CodeArtifact::connect(target.clone()).await)
        }
        Repository::Url { .. } => None,
    };
    let placeholder =
        crate::secret::SafeUrl::parse("http://127.0.0.1/").context("internal: placeholder URL")?;
    let context = std::sync::Arc::new(Target {
        repository,
        session_base: Session {
            client,
            endpoint: placeholder,
            auth,
            dry_run: args.dry_run,
            parallel: args.parallel.max(1),
        },
        codeartifact,
        namespace: args.namespace.clone(),
        tag: Some(args.tag.clone()),
        access: args.access.clone(),
    });
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(args.parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let context = std::sync::Arc::clone(&context);
        let semaphore = std::sync::Arc::clone(&semaphore);
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            (index, publish_job(&context, job).await)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.context("internal: a publish task panicked")?);
    }
    results.sort_by_key(|(index, _)| *index);
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for (_, result) in results {
        match result {
            Ok(report) => reports.push(report),
            Err(error) => errors.push(error),
        }
    }
    for report in &reports {
        for file in &report.files {
            let message = match file.outcome {
                Outcome::Published => format!(
                    "published `{}` ({} {}) to {}",
                    file.file, report.package, report.version, file.url
                ),
                Outcome::AlreadyPublished => match &file.note {
                    Some(note) => format!(
                        "`{}` is already published ({} {}): {note}; nothing sent",
                        file.file, report.package, report.version
                    ),
                    None => format!(
                        "`{}` is already published ({} {}, same sha256 {}): nothing sent",
                        file.file, report.package, report.version, file.sha256
                    ),
                },
                Outcome::WouldPublish => format!(
                    "would publish `{}` ({} bytes, sha256 {}) to {}",
                    file.file, file.size, file.sha256, file.url
                ),
                Outcome::Skipped => format!(
                    "skipped `{}`: {}",
                    file.file,
                    file.note.as_deref().unwrap_or_default()
                ),
            };
            printer.status(&message);
        }
    }
    if args.json {
        printer.data(&serde_json::to_string_pretty(&serde_json::json!({
            "dry_run": args.dry_run,
            "packages": reports,
            "errors": errors.iter().map(|error| format!("{error:#}")).collect::<Vec<_>>(),
        }))?);
    }
    if let Some(path) = EnvVars::get(EnvVars::GITHUB_STEP_SUMMARY) {
        let failures: Vec<String> = errors.iter().map(|error| format!("{error:#}")).collect();
        let text = summary_table(&reports, &failures);
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
    }
    let count = errors.len();
    if let Some(error) = errors.into_iter().next() {
        if count > 1 {
            return Err(error.context(format!("{count} packages failed to publish; the first")));
        }
        return Err(error.context("failed to publish"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_package_names_are_file_safe() {
        assert_eq!(provenance_package("@acme/tool"), "acme-tool.provenance");
        assert_eq!(provenance_package("Demo.Lib"), "Demo.Lib.provenance");
    }

    #[test]
    fn summary_table_lists_every_file() {
        let upload = Upload::new("a.tgz", b"x".to_vec());
        let table = summary_table(
            &[PackageReport {
                format: "npm",
                package: "a".into(),
                version: "1.0.0".into(),
                files: vec![FileReport::new(
                    &upload,
                    "http://r/a",
                    Outcome::AlreadyPublished,
                )],
            }],
            &["boom | bang".to_owned()],
        );
        assert!(table.contains("| `a` | 1.0.0 | `a.tgz` |"));
        assert!(table.contains("already published"));
        assert!(table.contains("failed: boom \\| bang"));
    }
}
