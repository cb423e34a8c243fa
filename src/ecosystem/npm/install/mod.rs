//! `lading restore --install` for npm: the `node_modules` tree `npm ci` writes, straight from
//! `package-lock.json` (v2, v3), without npm.
//!
//! Each registry entry's tarball comes through the verified [`Fetcher`] (the content-addressed
//! store first, else downloaded into a temp file and checked against `integrity`, not kept
//! as a blob: bun and pnpm keep no tarballs either), is unpacked once into the
//! unpacked-package store ([`unpack`]) and placed at its lockfile path by reflink, hard link
//! or copy ([`link`]). Downloads, unpacking and placing overlap: each package is placed as
//! soon as its tarball verified, on a pool of blocking threads, while later downloads stream.
//! Then, as npm's `rebuild` does: workspace links, `.bin` links at every level (first node
//! by depth then path wins a name, as bin-links' `seen` set decides), the bins made
//! executable; `node_modules/.package-lock.json`; and, unless `--ignore-scripts`, `npm
//! rebuild` for the packages with `hasInstallScript` (npm then runs their `preinstall`,
//! `install` and `postinstall` in its own order and environment) and the root project's
//! `preinstall` … `postprepare` scripts as `npm ci` runs them.

pub mod json;
pub mod link;
pub mod plan;
pub mod unpack;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use link::LinkMode;
pub use plan::Omit;

use super::cacache::{PACKUMENT_ACCEPT, packument_url};
use super::lockfile::LockedPackage;
use super::restore::{fetch_url, packument_pins};
use crate::cas::Digest;
use crate::fetcher::{Fetcher, RestoreError, Verified};
use crate::secret::SafeUrl;
use plan::{Node, Source};
use unpack::{Unpacked, UnpackedStore};

/// How to install.
#[derive(Debug, Clone)]
pub struct Options {
    /// How files get into `node_modules`.
    pub link: LinkMode,
    /// Dependency types left out.
    pub omit: Omit,
    /// Run no lifecycle scripts.
    pub ignore_scripts: bool,
    /// The unpacked-package store (`<cache>/npm-unpacked-v1`).
    pub unpacked_store: PathBuf,
}

/// What an install did.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    /// Lockfile entries written.
    pub packages: usize,
    /// Entries left out, with the reason.
    pub skipped: Vec<String>,
    /// What npm would warn about (`EBADENGINE`).
    pub warnings: Vec<String>,
    /// How files were placed (`reflink`, `hardlink`, `copy`).
    pub method: &'static str,
    /// Packages whose install scripts ran.
    pub scripts: usize,
}

/// One tarball and the locations it is placed at (with whether each must be a private copy).
type Group = (LockedPackage, Vec<(String, bool)>);

/// Blocking work (unpacking, placing) in flight at most: the filesystem, not the CPU, is
/// what they wait on, so more than the cores.
fn blocking_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |cores| cores.get() * 2)
        .max(4)
}

/// Install the tree `lockfile` describes into the `node_modules` beside it.
///
/// # Errors
/// [`RestoreError`]: an entry lading cannot install as npm would (named), a download that
/// failed or did not verify, a tarball that does not unpack, I/O, a failed install script.
pub async fn install(
    fetcher: &Fetcher,
    registry: &SafeUrl,
    lockfile: &Path,
    options: &Options,
) -> Result<Installed, RestoreError> {
    let project = lockfile
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let project = if project.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        project
    };
    let plan = plan::read(lockfile, options.omit, engine_strict(&project))?;
    let store = UnpackedStore::new(options.unpacked_store.clone());
    let linker = Arc::new(link::Linker::new(options.link));
    {
        let project = project.clone();
        let folders: Vec<String> = plan
            .nodes
            .iter()
            .filter(|node| node.source == Source::Folder)
            .map(|node| node.location.clone())
            .collect();
        tokio::task::spawn_blocking(move || clear_node_modules(&project, &folders)).await??;
    }

    // Registry entries by tarball: one download and one unpack, placed at every location.
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for node in &plan.nodes {
        if let Source::Registry {
            name,
            version,
            resolved,
            integrity,
        } = &node.source
        {
            let private = node.has_install_script && !options.ignore_scripts;
            groups
                .entry((
                    name.clone(),
                    integrity.clone().unwrap_or_else(|| version.clone()),
                ))
                .or_insert_with(|| {
                    (
                        LockedPackage {
                            name: name.clone(),
                            version: version.clone(),
                            resolved: resolved.clone(),
                            integrity: integrity.clone(),
                        },
                        Vec::new(),
                    )
                })
                .1
                .push((node.location.clone(), private));
        }
    }
    let registry_url = registry.expose().clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(blocking_slots()));
    let mut tasks = tokio::task::JoinSet::new();
    for (package, locations) in groups.into_values() {
        let fetcher = fetcher.clone();
        let store = store.clone();
        let linker = Arc::clone(&linker);
        let slots = Arc::clone(&slots);
        let project = project.clone();
        let registry_url = registry_url.clone();
        tasks.spawn(async move {
            let ready = unpacked_package(&fetcher, &store, &registry_url, &package).await?;
            let _slot = slots.acquire_owned().await.map_err(|_| closed())?;
            // Unpacking (when needed) and placing in one hop to the blocking pool.
            tokio::task::spawn_blocking(move || {
                let unpacked = match ready {
                    Ready::Unpacked(unpacked) => unpacked,
                    Ready::Tarball { key, source, spec } => match store.get(&key) {
                        Some(unpacked) => unpacked,
                        None => store.unpack(&key, source.path(), &spec)?,
                    },
                };
                for (location, private) in locations {
                    place_package(&linker, &unpacked, &project.join(&location), private)
                        .map_err(RestoreError::io(project.join(&location)))?;
                }
                Ok::<_, RestoreError>(())
            })
            .await?
        });
    }
    crate::fetcher::join_all(tasks).await?;

    let exec_mode = store.exec_mode();
    let nodes = plan.nodes.clone();
    let finish_project = project.clone();
    tokio::task::spawn_blocking(move || {
        make_links(&finish_project, &nodes)?;
        link_bins(&finish_project, &nodes, exec_mode)?;
        write_hidden_lockfile(&finish_project, &plan.header, &nodes)
    })
    .await??;

    let mut installed = Installed {
        packages: plan.nodes.len(),
        skipped: plan.skipped,
        warnings: plan.warnings,
        method: linker.method(),
        scripts: 0,
    };
    if !options.ignore_scripts {
        installed.scripts = run_scripts(&project, &plan.nodes).await?;
        // npm trusts `.package-lock.json` only while it is newer than every package folder,
        // and the scripts may have written into theirs: write it again, last, as npm does.
        if installed.scripts > 0 {
            let hidden = project.join("node_modules/.package-lock.json");
            if let Ok(text) = fs_err::read(&hidden) {
                fs_err::write(&hidden, text).map_err(RestoreError::io(&hidden))?;
            }
        }
    }
    Ok(installed)
}

fn closed() -> RestoreError {
    RestoreError::Invalid("the install's work queue closed early (a bug)".to_owned())
}

/// A package ready to place: unpacked already, or its verified tarball to unpack.
enum Ready {
    Unpacked(Unpacked),
    Tarball {
        key: String,
        /// The verified tarball (a download's temp file goes when this is dropped).
        source: Verified,
        spec: String,
    },
}

/// The unpacked package for `package` from the unpacked store, else its tarball verified
/// (store or download), to unpack.
async fn unpacked_package(
    fetcher: &Fetcher,
    store: &UnpackedStore,
    registry_url: &url::Url,
    package: &LockedPackage,
) -> Result<Ready, RestoreError> {
    let spec = package.spec();
    let pinned: Vec<Digest> = package
        .integrity
        .as_deref()
        .map(Digest::parse_sri)
        .unwrap_or_default();
    if let Some(digest) = pinned.first()
        && let Some(unpacked) = store.get(&unpacked_key(digest))
    {
        fetcher
            .stats
            .from_store
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(Ready::Unpacked(unpacked));
    }
    // Without `resolved` or `integrity` the packument says where and what.
    let packument = if package.resolved.is_none() || pinned.is_empty() {
        let url = packument_url(registry_url, &package.name);
        let safe = SafeUrl::parse(&url).map_err(|error| {
            RestoreError::Invalid(format!("`{spec}`: bad URL `{url}`: {error}"))
        })?;
        let document = fetcher
            .document(&package.name, &safe, Some(PACKUMENT_ACCEPT), true)
            .await?;
        Some(
            serde_json::from_slice::<serde_json::Value>(&document.body).map_err(|error| {
                RestoreError::Invalid(format!(
                    "the packument of `{}` at {safe} is not JSON: {error}",
                    package.name
                ))
            })?,
        )
    } else {
        None
    };
    let (pinned, npm_url) = packument_pins(package, packument.as_ref(), registry_url)?;
    let url = fetch_url(&npm_url, &package.name, registry_url);
    let source = SafeUrl::parse(&url)
        .map_err(|error| RestoreError::Invalid(format!("`{spec}`: bad URL `{url}`: {error}")))?;
    // Unpacked once into the unpacked store and never read again: the tarball itself is not
    // kept (no fsync, no move into the blob store).
    let source = fetcher.verified_once(&spec, &source, &pinned).await?;
    Ok(Ready::Tarball {
        key: unpacked_key(&pinned[0]),
        source,
        spec,
    })
}

fn unpacked_key(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm.name(), digest.hex())
}

/// npm ci's first step: empty the project's `node_modules` and each workspace's.
fn clear_node_modules(project: &Path, folders: &[String]) -> Result<(), RestoreError> {
    for folder in std::iter::once(".").chain(folders.iter().map(String::as_str)) {
        let dir = project.join(folder).join("node_modules");
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(RestoreError::io(&dir))?;
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            let removed = if is_dir {
                fs_err::remove_dir_all(&path)
            } else {
                fs_err::remove_file(&path)
            };
            removed.map_err(RestoreError::io(&path))?;
        }
    }
    Ok(())
}

/// Every directory, then every file of `unpacked`, at `target`.
fn place_package(
    linker: &link::Linker,
    unpacked: &Unpacked,
    target: &Path,
    private: bool,
) -> std::io::Result<()> {
    // Its parent usually exists already (`node_modules/`, or a placed package's folder):
    // one `mkdir` then, the whole chain only when it does not.
    match fs_err::create_dir(target) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            fs_err::create_dir_all(target)?;
        }
        Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => return Err(error),
        _ => {}
    }
    for dir in &unpacked.index.dirs {
        match fs_err::create_dir(target.join(dir)) {
            Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => return Err(error),
            _ => {}
        }
    }
    for (file, mode) in &unpacked.index.files {
        let to = target.join(file);
        match linker.place(&unpacked.root.join(file), &to, *mode, private) {
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                // A package nested in a folder its parent's tarball also fills.
                fs_err::remove_file(&to)?;
                linker.place(&unpacked.root.join(file), &to, *mode, private)?;
            }
            other => other?,
        }
    }
    Ok(())
}

/// `link: true` entries: a symlink to the folder, relative, as arborist makes it.
fn make_links(project: &Path, nodes: &[Node]) -> Result<(), RestoreError> {
    for node in nodes {
        let Source::Link { target } = &node.source else {
            continue;
        };
        let path = project.join(&node.location);
        let parent = path.parent().unwrap_or(project);
        fs_err::create_dir_all(parent).map_err(RestoreError::io(parent))?;
        let from_dir = Path::new(&node.location)
            .parent()
            .unwrap_or_else(|| Path::new(""));
        let relative = relative_path(from_dir, Path::new(target));
        let _ = fs_err::remove_file(&path);
        fs_err::os::unix::fs::symlink(&relative, &path).map_err(RestoreError::io(&path))?;
    }
    Ok(())
}

/// The path from directory `from` to `to`, both relative to one root, `/`-separated parts.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let normalize = |path: &Path| -> Vec<String> {
        let mut parts: Vec<String> = Vec::new();
        for part in path.to_string_lossy().split('/') {
            match part {
                "" | "." => {}
                ".." if parts.last().is_some_and(|last| last != "..") => {
                    parts.pop();
                }
                other => parts.push(other.to_owned()),
            }
        }
        parts
    };
    let from = normalize(from);
    let to = normalize(to);
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to[common..] {
        out.push(part);
    }
    out
}

/// The bins of `node`: its lockfile `bin`; for a link, the linked folder's `package.json`
/// (`bin`, else `directories.bin`), which npm reads from disk.
fn bins_of(project: &Path, node: &Node) -> Vec<(String, String)> {
    let Source::Link { target } = &node.source else {
        return node.bins.clone();
    };
    let folder = project.join(target);
    let Ok(text) = fs_err::read_to_string(folder.join("package.json")) else {
        return Vec::new();
    };
    let Ok(manifest) = serde_json::from_str::<json::Json>(text.trim_start_matches('\u{feff}'))
    else {
        return Vec::new();
    };
    let name = manifest
        .text("name")
        .unwrap_or(node.folder_name())
        .to_owned();
    if manifest.get("bin").is_some() {
        return plan::normalize_bins(manifest.get("bin"), &name);
    }
    let Some(dir) = manifest.get("directories").and_then(|d| d.text("bin")) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    collect_files(
        &folder,
        &folder.join(dir.trim_start_matches("./")),
        &mut files,
    );
    let files: Vec<String> = unpack::bin_dir_files(dir, files.iter());
    files
        .into_iter()
        .map(|file| (file.rsplit('/').next().unwrap_or(&file).to_owned(), file))
        .collect()
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// JavaScript's `localeCompare` closely enough for tie-breaking paths: case-insensitive
/// first, then by bytes.
fn locale_order(left: &str, right: &str) -> std::cmp::Ordering {
    left.to_lowercase()
        .cmp(&right.to_lowercase())
        .then_with(|| left.cmp(right))
}

/// bin-links for every node, in arborist's order (depth, then path): the first to claim a
/// `.bin` name keeps it; a target that does not exist is skipped; each linked target gets
/// `fixBin` (made private first when it is shared with the store).
fn link_bins(project: &Path, nodes: &[Node], exec_mode: u32) -> Result<(), RestoreError> {
    let mut queue: Vec<&Node> = nodes
        .iter()
        .filter(|node| !matches!(node.source, Source::Folder))
        .collect();
    queue.sort_by(|left, right| {
        left.depth()
            .cmp(&right.depth())
            .then_with(|| locale_order(&left.location, &right.location))
    });
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for node in queue {
        let bins = bins_of(project, node);
        if bins.is_empty() {
            continue;
        }
        let node_modules = &node.location[..node.location.len() - node.folder_name().len()];
        let bin_dir = project.join(node_modules).join(".bin");
        for (name, target) in bins {
            let to = bin_dir.join(&name);
            if !seen.insert(to.clone()) {
                continue;
            }
            let absolute_from = project.join(&node.location).join(&target);
            if fs_err::symlink_metadata(&absolute_from).is_err() {
                continue;
            }
            fs_err::create_dir_all(&bin_dir).map_err(RestoreError::io(&bin_dir))?;
            let from = Path::new("..").join(node.folder_name()).join(&target);
            let _ = fs_err::remove_file(&to);
            fs_err::os::unix::fs::symlink(&from, &to).map_err(RestoreError::io(&to))?;
            fix_linked_bin(&absolute_from, exec_mode).map_err(RestoreError::io(&absolute_from))?;
        }
    }
    Ok(())
}

/// `fixBin` on a file that may be a hard link into the store: when it would change, it is
/// replaced by a copy of its own first.
fn fix_linked_bin(path: &Path, exec_mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let metadata = fs_err::metadata(path)?;
    if !metadata.is_file() {
        return fs_err::set_permissions(path, std::fs::Permissions::from_mode(exec_mode));
    }
    let mut head = vec![0_u8; 2048];
    let read = {
        use std::io::Read as _;
        let mut file = fs_err::File::open(path)?;
        file.read(&mut head)?
    };
    let unchanged =
        metadata.mode() & 0o777 == exec_mode && !unpack::is_windows_hashbang(&head[..read]);
    if unchanged {
        return Ok(());
    }
    if metadata.nlink() > 1 {
        let real = fs_err::canonicalize(path)?;
        let temp = real.with_file_name(format!(
            ".lading-bin-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        fs_err::copy(&real, &temp)?;
        fs_err::rename(&temp, &real)?;
    }
    unpack::fix_bin(path, exec_mode)
}

/// A boolean npm setting as npm reads it: the environment (`npm_config_<key>` in lowercase,
/// then uppercase, `-` as `_`), else the project's `.npmrc`, else the user's
/// (`NPM_CONFIG_USERCONFIG`, else `~/.npmrc`); `false` when none sets it.
fn npm_flag(project: &Path, key: &str, lower: &str, upper: &str) -> bool {
    use crate::env_vars::EnvVars;
    if let Some(value) = EnvVars::get(lower).or_else(|| EnvVars::get(upper)) {
        return value.trim() == "true";
    }
    let user = EnvVars::get(EnvVars::NPM_CONFIG_USERCONFIG).map_or_else(
        || {
            EnvVars::get(EnvVars::HOME).map_or_else(
                || PathBuf::from(".npmrc"),
                |home| Path::new(&home).join(".npmrc"),
            )
        },
        PathBuf::from,
    );
    for file in [project.join(".npmrc"), user] {
        let Ok(text) = fs_err::read_to_string(&file) else {
            continue;
        };
        let value = text.lines().rev().find_map(|line| {
            let (name, value) = line.split_once('=')?;
            (name.trim() == key).then(|| value.trim() == "true")
        });
        if let Some(value) = value {
            return value;
        }
    }
    false
}

/// npm's `omit-lockfile-registry-resolved`.
fn omit_registry_resolved(project: &Path) -> bool {
    use crate::env_vars::EnvVars;
    npm_flag(
        project,
        "omit-lockfile-registry-resolved",
        EnvVars::NPM_CONFIG_OMIT_LOCKFILE_REGISTRY_RESOLVED_LOWER,
        EnvVars::NPM_CONFIG_OMIT_LOCKFILE_REGISTRY_RESOLVED,
    )
}

/// npm's `engine-strict`: `engines` that exclude the running node or npm fail the install.
fn engine_strict(project: &Path) -> bool {
    use crate::env_vars::EnvVars;
    npm_flag(
        project,
        "engine-strict",
        EnvVars::NPM_CONFIG_ENGINE_STRICT_LOWER,
        EnvVars::NPM_CONFIG_ENGINE_STRICT,
    )
}

/// `node_modules/.package-lock.json` as npm writes it after `npm ci`: the lockfile's
/// entries for what is installed, no root entry; registry entries without `resolved` under
/// `omit-lockfile-registry-resolved`.
fn write_hidden_lockfile(
    project: &Path,
    header: &[(String, json::Json)],
    nodes: &[Node],
) -> Result<(), RestoreError> {
    let omit_resolved = omit_registry_resolved(project);
    let node_modules = project.join("node_modules");
    if nodes.is_empty() && !node_modules.is_dir() {
        return Ok(());
    }
    let packages: Vec<(String, json::Json)> = nodes
        .iter()
        .map(|node| {
            let entry = match (&node.source, &node.entry) {
                (Source::Registry { .. }, json::Json::Object(fields)) if omit_resolved => {
                    json::Json::Object(
                        fields
                            .iter()
                            .filter(|(key, _)| key != "resolved")
                            .cloned()
                            .collect(),
                    )
                }
                (_, entry) => entry.clone(),
            };
            (node.location.clone(), entry)
        })
        .collect();
    let mut document = header.to_vec();
    document.push(("packages".to_owned(), json::Json::Object(packages)));
    let mut text = json::Json::Object(document).pretty();
    text.push('\n');
    let path = node_modules.join(".package-lock.json");
    fs_err::create_dir_all(&node_modules).map_err(RestoreError::io(&node_modules))?;
    fs_err::write(&path, text).map_err(RestoreError::io(&path))
}

/// `npm rebuild` for the installed packages with `hasInstallScript` (npm runs their
/// `preinstall`, `install` and `postinstall`, or `node-gyp rebuild`, in its order and
/// environment), then the root project's scripts in `npm ci`'s order. Returns how many
/// packages had scripts.
async fn run_scripts(project: &Path, nodes: &[Node]) -> Result<usize, RestoreError> {
    let mut names: Vec<String> = nodes
        .iter()
        .filter(|node| node.has_install_script)
        .filter_map(|node| match &node.source {
            Source::Registry { name, .. } => Some(name.clone()),
            Source::Bundled => Some(node.folder_name().to_owned()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    let count = nodes.iter().filter(|node| node.has_install_script).count();
    if !names.is_empty() {
        let mut command = tokio::process::Command::new("npm");
        command
            .current_dir(project)
            .args(["rebuild", "--no-audit", "--no-fund", "--no-update-notifier"])
            .args(&names);
        run_npm(command, "npm rebuild").await?;
    }
    let manifest: serde_json::Value = fs_err::read_to_string(project.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    for event in [
        "preinstall",
        "install",
        "postinstall",
        "prepublish",
        "preprepare",
        "prepare",
        "postprepare",
    ] {
        if manifest["scripts"][event].is_string() {
            // `--ignore-scripts` keeps `npm run` from adding the event's pre/post scripts:
            // npm ci runs each event alone.
            let mut command = tokio::process::Command::new("npm");
            command
                .current_dir(project)
                .args(["run", "--ignore-scripts", event]);
            run_npm(command, &format!("npm run {event}")).await?;
        }
    }
    Ok(count)
}

async fn run_npm(mut command: tokio::process::Command, shown: &str) -> Result<(), RestoreError> {
    // stdout carries only lading's data: the scripts' output goes to stderr.
    command.stdout(std::process::Stdio::from(std::io::stderr()));
    let status = command.status().await.map_err(|error| {
        RestoreError::Invalid(format!(
            "`{shown}` could not start: {error} (hint: lading runs install scripts through npm; install npm, or pass `--ignore-scripts`)"
        ))
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(RestoreError::Invalid(format!("`{shown}` failed: {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_project_folders() {
        assert_eq!(
            relative_path(Path::new("node_modules"), Path::new("packages/a")),
            Path::new("../packages/a")
        );
        assert_eq!(
            relative_path(Path::new("node_modules/@s"), Path::new("packages/b")),
            Path::new("../../packages/b")
        );
        assert_eq!(
            relative_path(Path::new("node_modules"), Path::new("../sibling")),
            Path::new("../../sibling")
        );
    }
}
