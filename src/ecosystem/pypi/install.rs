//! `lading restore --install --venv DIR` for pip lockfiles: the files the pip restore chooses
//! for the environment's interpreter ([`super::restore::fetch_chosen`]) are unpacked into
//! the virtual environment as pip would unpack them ([`super::install_wheel`]), each as soon
//! as it verified, on every core, while the rest download.
//!
//! The environment is created when missing with the interpreter's own
//! `python -m venv --without-pip`: the interpreter knows its layout (Debian's schemes,
//! `lib64` platforms, framework builds, copies where symlinks fail) better than a
//! `pyvenv.cfg` written from outside, and it costs one process start. Its install paths come
//! from asking the environment's interpreter once (`sysconfig`, pip's scheme).
//!
//! A project already installed at the pinned version is left alone; another version is
//! uninstalled first (the files its `RECORD` lists); projects the lockfile does not name
//! stay, as `pip install` leaves them. Source distributions are refused: building one runs
//! its build backend with build dependencies the lockfile does not pin.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use super::install_wheel::{self, Installed, Layout};
use super::normalize_name;
use super::restore::{Chosen, Selection};
use super::tags::TargetArgs;
use crate::diagnostics::HintedError;
use crate::fetcher::{Fetcher, Summary};
use crate::secret::SafeUrl;

/// What `--install` does for pip lockfiles.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The virtual environment.
    pub venv: PathBuf,
    /// Byte-compile the installed modules.
    pub compile: bool,
}

/// Asks the environment's interpreter where pip would install (pip's `get_scheme` for a
/// virtual environment: `sysconfig`'s preferred prefix scheme).
const DESCRIBE_VENV: &str = r#"
import json, os, sys, sysconfig
if hasattr(sysconfig, "get_preferred_scheme"):
    scheme = sysconfig.get_preferred_scheme("prefix")
else:
    scheme = "posix_prefix" if os.name == "posix" else "nt"
paths = sysconfig.get_paths(scheme=scheme)
print(json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "is_venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    "purelib": paths["purelib"],
    "platlib": paths["platlib"],
    "scripts": paths["scripts"],
    "data": paths["data"],
    "version": list(sys.version_info[:2]),
    "cache_tag": sys.implementation.cache_tag,
}))
"#;

/// Byte-compiles the files named on stdin as pip does (`compileall.compile_file`, forced,
/// warnings silenced); a file that does not compile is skipped, as pip skips it.
const COMPILE: &str = r"
import compileall, sys, warnings
warnings.filterwarnings('ignore')
for line in sys.stdin:
    path = line.rstrip('\n')
    if path:
        try:
            compileall.compile_file(path, force=True, quiet=2)
        except Exception:
            pass
";

/// The interpreter of the environment at `venv`.
#[must_use]
pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Create the environment at `venv` with `python -m venv --without-pip` unless it has a
/// `pyvenv.cfg`; its interpreter.
fn ensure_venv(venv: &Path, python: Option<&Path>) -> anyhow::Result<PathBuf> {
    let interpreter = venv_python(venv);
    if venv.join("pyvenv.cfg").is_file() {
        return Ok(interpreter);
    }
    if venv.exists() && fs_err::read_dir(venv).map_or(true, |mut entries| entries.next().is_some())
    {
        return Err(HintedError::new(
            format!(
                "`{}` exists and is not a virtual environment (no `pyvenv.cfg`)",
                venv.display()
            ),
            "pass `--venv` a virtual environment or a directory that does not exist yet",
        )
        .into());
    }
    let creator = python.map_or_else(|| PathBuf::from("python3"), Path::to_path_buf);
    let output = std::process::Command::new(&creator)
        .args(["-m", "venv", "--without-pip"])
        .arg(venv)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| {
            HintedError::new(
                format!("could not run `{}`: {error}", creator.display()),
                "pass `--python PATH` for the interpreter that creates the environment",
            )
        })?;
    if !output.status.success() {
        return Err(HintedError::new(
            format!(
                "`{} -m venv --without-pip {}` failed ({}): {}",
                creator.display(),
                venv.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            "on Debian and Ubuntu install the `python3-venv` package, or pass `--python PATH` for another interpreter",
        )
        .into());
    }
    Ok(interpreter)
}

#[derive(serde::Deserialize)]
struct Description {
    is_venv: bool,
    #[serde(flatten)]
    layout: Layout,
}

/// Ask the environment's interpreter for its install paths.
fn describe(python: &Path) -> anyhow::Result<Layout> {
    let output = std::process::Command::new(python)
        .args(["-I", "-c", DESCRIBE_VENV])
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("could not run `{}`", python.display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "`{}` could not describe its install paths: {}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let description: Description = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "`{}` described its install paths unreadably",
            python.display()
        )
    })?;
    if !description.is_venv {
        return Err(HintedError::new(
            format!(
                "`{}` is not the interpreter of a virtual environment",
                python.display()
            ),
            "pass `--venv` a virtual environment (or a new directory, which becomes one)",
        )
        .into());
    }
    Ok(description.layout)
}

/// A distribution already in the environment: its version and `.dist-info` directory.
#[derive(Debug, Clone)]
struct Present {
    version: String,
    dist_info: PathBuf,
    lib_dir: PathBuf,
}

/// The distributions in the environment's `purelib` and `platlib`, by normalized name.
fn present(layout: &Layout) -> HashMap<String, Present> {
    let mut found = HashMap::new();
    let mut dirs = vec![layout.purelib.clone()];
    if layout.platlib != layout.purelib {
        dirs.push(layout.platlib.clone());
    }
    for dir in dirs {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if let Some((name, version)) = install_wheel::dist_info_version(&file_name) {
                found.insert(
                    normalize_name(name),
                    Present {
                        version: version.to_owned(),
                        dist_info: entry.path(),
                        lib_dir: dir.clone(),
                    },
                );
            }
        }
    }
    found
}

/// Whether two version strings are one version (PEP 440 normalized, else spelled alike).
fn same_version(left: &str, right: &str) -> bool {
    match (
        super::pep440::Specifiers::parse(&format!("=={left}")),
        super::pep440::Version::parse(right),
    ) {
        (Some(pinned), Some(right)) => pinned.contains(&right),
        _ => left == right,
    }
}

/// Remove what an installed distribution's `RECORD` lists (inside the environment only),
/// its byte-compiled files, its `.dist-info` directory, and directories left empty, as
/// `pip uninstall` does.
fn uninstall(venv: &Path, present: &Present, cache_tag: Option<&str>) -> std::io::Result<()> {
    let record = fs_err::read_to_string(present.dist_info.join("RECORD")).unwrap_or_default();
    let mut parents = std::collections::BTreeSet::new();
    for line in record.lines() {
        let path = line
            .trim_end_matches('\r')
            .rsplitn(3, ',')
            .last()
            .unwrap_or_default()
            .trim_matches('"');
        if path.is_empty() {
            continue;
        }
        let full = normalize_lexically(&present.lib_dir.join(path));
        if !full.starts_with(venv) {
            continue;
        }
        let _ = fs_err::remove_file(&full);
        if let (Some(tag), Some(stem), Some(parent)) = (
            cache_tag,
            full.file_stem().and_then(|stem| stem.to_str()),
            full.parent(),
        ) && full.extension().is_some_and(|extension| extension == "py")
        {
            let _ =
                fs_err::remove_file(parent.join("__pycache__").join(format!("{stem}.{tag}.pyc")));
            parents.insert(parent.join("__pycache__"));
        }
        if let Some(parent) = full.parent() {
            parents.insert(parent.to_path_buf());
        }
    }
    if present.dist_info.exists() {
        fs_err::remove_dir_all(&present.dist_info)?;
    }
    // Deepest first; a directory still holding files stays.
    for dir in parents.iter().rev() {
        let mut dir = dir.as_path();
        while dir.starts_with(venv) && dir != venv && fs_err::remove_dir(dir).is_ok() {
            let Some(parent) = dir.parent() else { break };
            dir = parent;
        }
    }
    Ok(())
}

/// `path` without `.` and `..` components, lexically.
fn normalize_lexically(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                normalized.pop();
            }
            std::path::Component::CurDir => {}
            other => normalized.push(other),
        }
    }
    normalized
}

/// What one chosen file became.
enum Outcome {
    Installed(Box<(Installed, String)>),
    AlreadyInstalled,
}

fn install_one(
    venv: &Path,
    layout: &Layout,
    present: &HashMap<String, Present>,
    chosen: &Chosen,
) -> anyhow::Result<Outcome> {
    let Ok(super::DistributionFile::Wheel { version, .. }) =
        super::DistributionFile::parse(&chosen.filename)
    else {
        return Err(HintedError::new(
            format!(
                "`{}`: `{}` is a source distribution, which `--install` does not build",
                chosen.name, chosen.filename
            ),
            "pin a wheel for this interpreter (build one with `pip wheel --no-deps` and publish it), or restore a wheelhouse without `--install` and let `pip install --no-index --find-links` build it",
        )
        .into());
    };
    if let Some(present) = present.get(&normalize_name(&chosen.name)) {
        if same_version(&present.version, &version) {
            return Ok(Outcome::AlreadyInstalled);
        }
        uninstall(venv, present, layout.cache_tag.as_deref()).with_context(|| {
            format!(
                "failed to uninstall `{}` {} before installing {version}",
                chosen.name, present.version
            )
        })?;
    }
    let installed = install_wheel::install(layout, &chosen.blob, &chosen.filename, &chosen.name)
        .map_err(|error| {
            let hint = error.hint();
            let message = match std::error::Error::source(&error) {
                Some(source) => format!("{error}: {source}"),
                None => error.to_string(),
            };
            HintedError::new(message, hint)
        })?;
    Ok(Outcome::Installed(Box::new((
        installed,
        chosen.filename.clone(),
    ))))
}

/// Byte-compile `files` with the environment's interpreter, in one process per core; the
/// `RECORD` paths of the `.pyc` files written (without hashes, as pip lists them) are added
/// to each distribution's rows.
fn compile(
    python: &Path,
    layout: &Layout,
    installed: &mut [(Installed, String)],
) -> anyhow::Result<()> {
    let Some(cache_tag) = layout.cache_tag.clone() else {
        return Ok(());
    };
    let mut files: Vec<&PathBuf> = installed
        .iter()
        .flat_map(|(installed, _)| &installed.python_files)
        .collect();
    files.sort();
    files.dedup();
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = files.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|chunk| {
                scope.spawn(move || -> anyhow::Result<()> {
                    let mut child = std::process::Command::new(python)
                        .args(["-I", "-c", COMPILE])
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::null())
                        .spawn()
                        .with_context(|| format!("could not run `{}`", python.display()))?;
                    if let Some(mut stdin) = child.stdin.take() {
                        let mut list = String::new();
                        for file in chunk {
                            list.push_str(&file.to_string_lossy());
                            list.push('\n');
                        }
                        stdin.write_all(list.as_bytes())?;
                    }
                    child.wait()?;
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("byte compilation panicked"))??;
        }
        Ok(())
    })?;
    for (installed, _) in installed.iter_mut() {
        let mut rows = Vec::new();
        for file in &installed.python_files {
            let (Some(parent), Some(stem)) = (file.parent(), file.file_stem()) else {
                continue;
            };
            let pyc = parent
                .join("__pycache__")
                .join(format!("{}.{cache_tag}.pyc", stem.to_string_lossy()));
            if pyc.is_file() {
                rows.push((
                    install_wheel::relative_path(&pyc, &installed.lib_dir),
                    String::new(),
                    String::new(),
                ));
            }
        }
        installed.rows.extend(rows);
    }
    Ok(())
}

/// Restore `lockfiles` into the virtual environment `options.venv` (created when missing,
/// with `--python` or `python3`), for its interpreter.
///
/// # Errors
/// As the pip restore, plus an environment that cannot be created or described, a wheel
/// that cannot be installed, and a source distribution.
pub async fn install(
    fetcher: &Fetcher,
    endpoint: &SafeUrl,
    lockfiles: &[PathBuf],
    target: &TargetArgs,
    options: &InstallOptions,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    if target.all_platforms
        || target.python_version.is_some()
        || !target.platform.is_empty()
        || !target.abi.is_empty()
        || target.implementation.is_some()
    {
        return Err(HintedError::new(
            "`--install` installs for the environment's own interpreter",
            "drop `--all-platforms`, `--python-version`, `--platform`, `--abi` and `--implementation`, or restore a wheelhouse without `--install`",
        )
        .into());
    }
    if cfg!(windows) {
        return Err(HintedError::new(
            "`--install` for pip is not supported on Windows yet (its launchers are executables)",
            "restore a wheelhouse without `--install` and install it with `pip install --no-index --find-links`",
        )
        .into());
    }
    let venv = std::path::absolute(&options.venv)
        .with_context(|| format!("bad path `{}`", options.venv.display()))?;
    let creator = target.python.clone();
    let venv_for_task = venv.clone();
    let (python, layout) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let python = ensure_venv(&venv_for_task, creator.as_deref())?;
        let layout = describe(&python)?;
        Ok((python, layout))
    })
    .await??;
    let mut args = target.clone();
    args.python = Some(python.clone());
    let target = super::tags::target(&args).map_err(|error| {
        let message = match std::error::Error::source(&error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        };
        HintedError::new(message, error.hint())
    })?;
    let selection = Selection::new(target.as_ref());
    let present = Arc::new(present(&layout));
    let layout = Arc::new(layout);
    let venv = Arc::new(venv);

    // Each verified file is installed while the others download, one wheel per core.
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Chosen>();
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let permits = Arc::new(tokio::sync::Semaphore::new(workers));
    let installer = {
        let (layout, present, venv) = (layout.clone(), present.clone(), venv.clone());
        tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            while let Some(chosen) = receiver.recv().await {
                let permit = permits.clone().acquire_owned().await?;
                let (layout, present, venv) = (layout.clone(), present.clone(), venv.clone());
                tasks.spawn_blocking(move || {
                    let _permit = permit;
                    install_one(&venv, &layout, &present, &chosen)
                });
            }
            crate::fetcher::join_all(tasks).await
        })
    };
    let fetched = super::restore::fetch_chosen(
        fetcher,
        endpoint,
        lockfiles,
        &selection,
        summary,
        Some(sender),
    )
    .await;
    let outcomes = installer.await?;
    fetched?;
    let outcomes = outcomes?;
    let already = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Outcome::AlreadyInstalled))
        .count();
    let mut installed: Vec<(Installed, String)> = outcomes
        .into_iter()
        .filter_map(|outcome| match outcome {
            Outcome::Installed(installed) => Some(*installed),
            Outcome::AlreadyInstalled => None,
        })
        .collect();
    let compile_layout = layout.clone();
    let compile_options = options.compile;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        if compile_options {
            compile(&python, &compile_layout, &mut installed)?;
        }
        for (installed, wheel) in &mut installed {
            installed.write_record(wheel)?;
        }
        Ok(())
    })
    .await??;
    if already > 0 {
        summary.skipped.push(format!(
            "{already} already installed at the pinned version in `{}`",
            venv.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_pep_440() {
        assert!(same_version("1.0", "1.0.0"));
        assert!(same_version("2.0.0rc1", "2.0.0rc1"));
        assert!(!same_version("1.0", "1.1"));
    }

    #[test]
    fn uninstall_paths_stay_lexical() {
        assert_eq!(
            normalize_lexically(Path::new("/v/lib/python3.11/site-packages/../../../bin/x")),
            PathBuf::from("/v/bin/x")
        );
    }
}
