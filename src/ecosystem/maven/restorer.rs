//! Maven's restorer: `gradle.lockfile`, maven-lockfile's `lockfile.json` and plain lists of
//! coordinates into Maven's local repository.

use std::path::{Path, PathBuf};

use super::restore::Format as Input;
use crate::ecosystem::restore::{
    Job, LockfileArgs, Recognised, Restore, Restorer, Restoring, has_txt_extension, home,
};
use crate::env_vars::EnvVars;
use crate::format::Format;

impl Restore for super::Maven {
    fn restorers(&self) -> &'static [&'static dyn Restorer] {
        &[&MavenRestorer]
    }
}

/// Maven lockfiles into Maven's local repository.
#[derive(Debug)]
pub struct MavenRestorer;

/// Maven's local repository: `--maven-repo`, `-Dmaven.repo.local` in `MAVEN_OPTS`, else
/// `~/.m2/repository`.
#[must_use]
pub fn maven_repo_dir(locations: &LockfileArgs) -> PathBuf {
    locations
        .maven_repo
        .clone()
        .or_else(|| {
            EnvVars::get(EnvVars::MAVEN_OPTS).and_then(|options| {
                options
                    .split_whitespace()
                    .find_map(|option| option.strip_prefix("-Dmaven.repo.local="))
                    .map(|value| PathBuf::from(value.trim_matches('"')))
            })
        })
        .unwrap_or_else(|| home().join(".m2/repository"))
}

/// How a file is read, if it is a Maven lockfile: by name, a found `lockfile.json` only when
/// it reads as maven-lockfile's, any named `*.txt` as coordinates.
fn input(path: &Path, name: &str, explicit: bool) -> Option<Input> {
    match name {
        "gradle.lockfile" => Some(Input::Gradle),
        "lockfile.json" => (explicit || is_maven_lockfile(path)).then_some(Input::MavenLockfile),
        _ => (explicit && has_txt_extension(name)).then_some(Input::Coordinates),
    }
}

fn is_maven_lockfile(path: &Path) -> bool {
    fs_err::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|document| {
            document.get("dependencies").is_some()
                && (document.get("lockFileVersion").is_some()
                    || document.get("groupId").is_some()
                    || document.get("groupID").is_some())
        })
}

impl Restorer for MavenRestorer {
    fn name(&self) -> &'static str {
        "maven"
    }

    fn format(&self) -> Format {
        Format::Maven
    }

    fn recognise(&self, path: &Path, name: &str, explicit: bool) -> Option<Recognised> {
        let rank = match input(path, name, explicit)? {
            Input::Gradle => 0,
            Input::MavenLockfile => 1,
            Input::Coordinates => 2,
        };
        Some(Recognised::Lockfile { rank })
    }

    fn lockfile_names(&self) -> &'static str {
        "gradle.lockfile, lockfile.json (maven-lockfile), *.txt Maven coordinates"
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        maven_repo_dir(locations)
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        Box::pin(async move {
            // Each file was recognised already: read it as it was recognised.
            let inputs: Vec<(Input, PathBuf)> = job
                .lockfiles
                .iter()
                .filter_map(|path| {
                    let name = path.file_name()?.to_str()?;
                    Some((input(path, name, true)?, path.clone()))
                })
                .collect();
            super::restore::restore(
                job.fetcher,
                job.endpoint,
                job.destination,
                job.options.maven_repository_id,
                &inputs,
                job.summary,
            )
            .await?;
            Ok(())
        })
    }
}
