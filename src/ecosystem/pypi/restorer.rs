//! PyPI's restorer: `requirements*.txt`, `uv.lock` and `pylock.toml` into a wheelhouse, or
//! with `--install` into a virtual environment.

use std::path::{Path, PathBuf};

use crate::diagnostics::HintedError;
use crate::ecosystem::restore::{
    Job, LockfileArgs, Options, PythonTargetArgs, Recognised, Restore, Restorer, Restoring,
    has_txt_extension,
};
use crate::env_vars::EnvVars;
use crate::format::Format;

impl Restore for super::Pypi {
    fn restorers(&self) -> &'static [&'static dyn Restorer] {
        &[&PypiRestorer]
    }
}

/// pip lockfiles into a wheelhouse (or, with `--install`, a virtual environment).
#[derive(Debug)]
pub struct PypiRestorer;

/// The interpreter a pip restore fetches for (`None` with `--all-platforms`).
///
/// # Errors
/// The interpreter cannot be asked, or an override is not a tag.
pub fn pip_target(args: &PythonTargetArgs) -> anyhow::Result<Option<super::tags::Target>> {
    super::tags::target(args).map_err(|error| {
        let message = match std::error::Error::source(&error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        };
        HintedError::new(message, error.hint()).into()
    })
}

/// The virtual environment `--install` fills from pip lockfiles: `--venv`, `VIRTUAL_ENV`,
/// else `.venv`.
fn pip_venv(options: &Options<'_>) -> PathBuf {
    options
        .venv
        .map(Path::to_path_buf)
        .or_else(|| EnvVars::get(EnvVars::VIRTUAL_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".venv"))
}

impl Restorer for PypiRestorer {
    fn name(&self) -> &'static str {
        "pypi"
    }

    fn format(&self) -> Format {
        Format::Pypi
    }

    fn recognise(&self, _path: &Path, name: &str, _explicit: bool) -> Option<Recognised> {
        ((name.starts_with("requirements") && has_txt_extension(name))
            || super::lock::is_lock_file_name(name)
            || name == super::poetry_lock::FILE_NAME)
            .then_some(Recognised::Lockfile { rank: 0 })
    }

    fn lockfile_names(&self) -> &'static str {
        "requirements*.txt, uv.lock, pylock.toml, poetry.lock"
    }

    fn destination(&self, locations: &LockfileArgs) -> PathBuf {
        locations.wheelhouse.clone()
    }

    fn restore<'a>(&'a self, job: Job<'a>) -> Restoring<'a> {
        Box::pin(async move {
            if job.options.install {
                job.summary.destination = pip_venv(&job.options);
                super::install::install(
                    job.fetcher,
                    job.endpoint,
                    job.lockfiles,
                    job.options.python,
                    &super::install::InstallOptions {
                        venv: job.summary.destination.clone(),
                        compile: job.options.compile,
                    },
                    job.summary,
                )
                .await?;
            } else {
                let target = pip_target(job.options.python)?;
                super::restore::restore(
                    job.fetcher,
                    job.endpoint,
                    job.destination,
                    job.lockfiles,
                    &super::restore::Selection::new(target.as_ref()),
                    job.summary,
                )
                .await?;
            }
            Ok(())
        })
    }
}
