//! What `npm ci` would put where: the entries of `package-lock.json`'s `packages` map (v2,
//! v3) that this install writes, after `--omit` and the platform check, each with what it
//! is (a registry tarball, a workspace link, a package bundled in its parent) and its bins.
//!
//! Every entry lading cannot install as npm would (a git or `file:` tarball, a remote
//! tarball without `integrity`, a required package for another platform) is an error that
//! names the entry: a silently different tree is worse than no tree.

use std::path::Path;

use super::json::Json;
use crate::fetcher::RestoreError;

/// Dependency types left out (`--omit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Omit {
    /// `dev`.
    pub dev: bool,
    /// `optional`.
    pub optional: bool,
    /// `peer`.
    pub peer: bool,
}

impl Omit {
    /// Whether npm leaves `entry` out (arborist's `Node.shouldOmit`).
    fn omits(self, entry: &Json) -> bool {
        (entry.flag("peer") && self.peer)
            || (entry.flag("dev") && self.dev)
            || (entry.flag("optional") && self.optional)
            || (entry.flag("devOptional") && self.dev && self.optional)
    }
}

/// Where an entry's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A registry tarball (`resolved` may be absent under `omit-lockfile-registry-resolved`).
    Registry {
        /// The real package name.
        name: String,
        /// The version.
        version: String,
        /// `resolved`.
        resolved: Option<String>,
        /// `integrity`.
        integrity: Option<String>,
    },
    /// `link: true`: a symlink to `target` (relative to the project).
    Link {
        /// The linked folder, relative to the project.
        target: String,
    },
    /// `inBundle: true`: shipped inside an ancestor's tarball.
    Bundled,
    /// A workspace or linked folder itself (no `node_modules/` in its path): its files are
    /// the user's.
    Folder,
}

/// One lockfile entry this install writes.
#[derive(Debug, Clone)]
pub struct Node {
    /// The `packages` key, `/`-separated, relative to the project.
    pub location: String,
    /// What it is.
    pub source: Source,
    /// `bin` from the lockfile, normalized as npm does (name → path in the package).
    pub bins: Vec<(String, String)>,
    /// `hasInstallScript`.
    pub has_install_script: bool,
    /// The entry as written, for `node_modules/.package-lock.json`.
    pub entry: Json,
}

impl Node {
    /// The name the package is installed under (the last `node_modules/` segment; for a
    /// folder, its path).
    #[must_use]
    pub fn folder_name(&self) -> &str {
        self.location
            .rsplit_once("node_modules/")
            .map_or(self.location.as_str(), |(_, tail)| tail)
    }

    /// How deep it is: the number of `node_modules/` in its path.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.location.matches("node_modules/").count()
    }
}

/// The install plan of one lockfile.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The lockfile's top-level `name`, `version` and `requires`, for the hidden lockfile.
    pub header: Vec<(String, Json)>,
    /// Entries to write, in lockfile order.
    pub nodes: Vec<Node>,
    /// Entries left out, with the reason.
    pub skipped: Vec<String>,
    /// What npm warns about and installs anyway (`EBADENGINE`).
    pub warnings: Vec<String>,
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> RestoreError {
    RestoreError::Invalid(format!("`{}`: {message}", path.display()))
}

/// Read `lockfile` and decide what to install.
///
/// # Errors
/// [`RestoreError::Invalid`] naming the lockfile and, for an entry lading cannot install as
/// npm would, the entry; I/O errors.
pub fn read(lockfile: &Path, omit: Omit, engine_strict: bool) -> Result<Plan, RestoreError> {
    let text = fs_err::read_to_string(lockfile).map_err(RestoreError::io(lockfile))?;
    let document: Json = serde_json::from_str(&text).map_err(|error| {
        invalid(
            lockfile,
            format!(
                "not valid JSON at {}:{}: {error}",
                error.line(),
                error.column()
            ),
        )
    })?;
    let version = match document.get("lockfileVersion") {
        Some(Json::Number(number)) => number.as_u64().unwrap_or(0),
        _ => 0,
    };
    let packages = match (version, document.get("packages")) {
        (2.., Some(Json::Object(packages))) => packages,
        (1, _) => {
            return Err(invalid(
                lockfile,
                "lockfileVersion 1 has no `packages` map to install from (hint: rewrite it with npm 7 or later: `npm install --package-lock-only`)",
            ));
        }
        _ => {
            return Err(invalid(
                lockfile,
                "not a package-lock.json with a `packages` map (lockfileVersion 2 or 3)",
            ));
        }
    };
    let mut header = Vec::new();
    for key in ["name", "version"] {
        if let Some(value) = document.get(key) {
            header.push((key.to_owned(), value.clone()));
        }
    }
    header.push(("lockfileVersion".to_owned(), Json::Number(3.into())));
    if let Some(value) = document.get("requires") {
        header.push(("requires".to_owned(), value.clone()));
    }

    // npm checks every node of the tree before it installs anything (build-ideal-tree's
    // `checkEngineAndPlatform`). One that is not `optional` (`devOptional` is not) and not
    // omitted: `engines` that exclude the running node or npm only warn (`EBADENGINE`; an
    // error under `engine-strict`), another platform fails the install (`EBADPLATFORM`). An
    // `optional` one that fails either check is inert, not installed, and so is its optional
    // set (arborist's `optionalSet`), in tree order, each set computed with the earlier inert
    // nodes' edges ignored.
    let mut warnings = Vec::new();
    let root_manifest = lockfile
        .parent()
        .map(|dir| dir.join("package.json"))
        .and_then(|path| fs_err::read(path).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let mut graph: Option<Graph> = None;
    let mut inert: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    // Each optional set's first node, with why it failed.
    let mut failed_optional: Vec<(String, String)> = Vec::new();
    for (location, entry) in packages {
        if location.is_empty() {
            // The root is its `package.json`, as npm reads it (with `devEngines`, its
            // `engines` are not checked).
            let Some(manifest) = &root_manifest else {
                continue;
            };
            if manifest.get("devEngines").is_none()
                && let Some(reason) = super::super::engines_mismatch(manifest.get("engines"))
            {
                engine_warning(
                    lockfile,
                    "the project",
                    &reason,
                    engine_strict,
                    &mut warnings,
                )?;
            }
            if !super::super::for_this_platform(manifest) {
                return Err(wrong_platform(
                    lockfile,
                    "the project (`package.json`)",
                    manifest,
                ));
            }
            continue;
        }
        if !entry.flag("optional") {
            if omit.omits(entry) {
                continue;
            }
            let value = entry.to_value();
            if let Some(reason) = super::super::engines_mismatch(value.get("engines")) {
                engine_warning(
                    lockfile,
                    &format!("`{location}`"),
                    &reason,
                    engine_strict,
                    &mut warnings,
                )?;
            }
            if !super::super::for_this_platform(&value) {
                return Err(wrong_platform(lockfile, &format!("`{location}`"), &value));
            }
            continue;
        }
        if inert.contains(location.as_str()) {
            continue;
        }
        let value = entry.to_value();
        let reason = match super::super::engines_mismatch(value.get("engines")) {
            Some(reason) => reason,
            None if super::super::for_this_platform(&value) => continue,
            None => "for another platform".to_owned(),
        };
        let set = graph
            .get_or_insert_with(|| Graph::of(packages))
            .optional_set(location, &inert);
        inert.extend(set);
        failed_optional.push((location.clone(), reason));
    }

    let mut nodes: Vec<Node> = Vec::new();
    let mut skipped = Vec::new();
    // Locations left out: everything under them goes too.
    let mut dropped: Vec<String> = Vec::new();
    for (location, entry) in packages {
        if location.is_empty() {
            continue;
        }
        if dropped
            .iter()
            .any(|gone| location.starts_with(&format!("{gone}/")))
        {
            continue;
        }
        if inert.contains(location.as_str()) {
            skipped.push(
                match failed_optional
                    .iter()
                    .find(|(failed, _)| failed == location)
                {
                    Some((_, reason)) => format!("{location}: optional, {reason}"),
                    None => format!("{location}: needed only by optional packages left out"),
                },
            );
            dropped.push(location.clone());
            continue;
        }
        if omit.omits(entry) {
            skipped.push(format!("{location}: omitted"));
            dropped.push(location.clone());
            continue;
        }
        let source = source_of(lockfile, location, entry)?;
        let bins = normalize_bins(entry.get("bin"), &name_of(location, entry));
        nodes.push(Node {
            location: location.clone(),
            source,
            bins,
            has_install_script: entry.flag("hasInstallScript"),
            entry: entry.clone(),
        });
    }
    // A bundled package goes with the package that ships it.
    let locations: std::collections::BTreeSet<String> =
        nodes.iter().map(|node| node.location.clone()).collect();
    nodes.retain(|node| {
        node.source != Source::Bundled
            || parent_location(&node.location).is_some_and(|parent| locations.contains(parent))
    });
    Ok(Plan {
        header,
        nodes,
        skipped,
        warnings,
    })
}

/// npm's `EBADENGINE`: a warning, or under `engine-strict` the error.
fn engine_warning(
    lockfile: &Path,
    what: &str,
    reason: &str,
    engine_strict: bool,
    warnings: &mut Vec<String>,
) -> Result<(), RestoreError> {
    if engine_strict {
        return Err(invalid(
            lockfile,
            format!(
                "{what}: unsupported engine, {reason}: npm ci refuses it too under `engine-strict` (EBADENGINE; hint: use a node and npm the package supports, or unset `engine-strict`)"
            ),
        ));
    }
    warnings.push(format!("{what}: unsupported engine (EBADENGINE), {reason}"));
    Ok(())
}

/// npm's `EBADPLATFORM` for a node that is not optional.
fn wrong_platform(lockfile: &Path, what: &str, entry: &serde_json::Value) -> RestoreError {
    let (os, cpu, libc) = super::super::node_platform_with_libc();
    let field = |name: &str| entry.get(name).map(ToString::to_string).unwrap_or_default();
    invalid(
        lockfile,
        format!(
            "{what} is for another platform (os {}, cpu {}, libc {}; this is {os} {cpu} {libc}) and not optional: npm ci refuses it too (EBADPLATFORM)",
            field("os"),
            field("cpu"),
            field("libc"),
        ),
    )
}

/// The dependency graph of a lockfile's entries, as arborist builds it from a virtual
/// tree: each of an entry's `dependencies`, `optionalDependencies`, `peerDependencies`
/// (and, for the root and workspace folders, `devDependencies`) resolved as node does,
/// from the entry's own `node_modules` up; an edge into a `link: true` entry goes to its
/// target.
struct Graph<'a> {
    /// location → (dependency location, whether the edge is optional).
    out: std::collections::HashMap<&'a str, Vec<(String, bool)>>,
    /// location → (dependent location, whether the edge is optional).
    into: std::collections::HashMap<String, Vec<(&'a str, bool)>>,
}

impl<'a> Graph<'a> {
    fn of(packages: &'a [(String, Json)]) -> Self {
        let locations: std::collections::HashMap<&str, &Json> = packages
            .iter()
            .map(|(location, entry)| (location.as_str(), entry))
            .collect();
        let target_of = |location: String| -> String {
            match locations.get(location.as_str()) {
                Some(entry) if entry.flag("link") => {
                    entry.text("resolved").map_or(location, str::to_owned)
                }
                _ => location,
            }
        };
        let mut graph = Self {
            out: std::collections::HashMap::new(),
            into: std::collections::HashMap::new(),
        };
        for (from, entry) in packages {
            if entry.flag("link") {
                continue;
            }
            let folder = !from.contains("node_modules/");
            let optional_peers: Vec<&str> = entry
                .get("peerDependenciesMeta")
                .and_then(Json::as_object)
                .map(|meta| {
                    meta.iter()
                        .filter(|(_, value)| value.flag("optional"))
                        .map(|(name, _)| name.as_str())
                        .collect()
                })
                .unwrap_or_default();
            for (field, optional) in [
                ("dependencies", false),
                ("optionalDependencies", true),
                ("peerDependencies", false),
                ("devDependencies", false),
            ] {
                if field == "devDependencies" && !folder {
                    continue;
                }
                let Some(names) = entry.get(field).and_then(Json::as_object) else {
                    continue;
                };
                for (name, _) in names {
                    let optional = optional
                        || (field == "peerDependencies" && optional_peers.contains(&name.as_str()));
                    let Some(to) = resolve(&locations, from, name) else {
                        continue;
                    };
                    let to = target_of(to);
                    graph
                        .into
                        .entry(to.clone())
                        .or_default()
                        .push((from, optional));
                    graph.out.entry(from).or_default().push((to, optional));
                }
            }
        }
        graph
    }

    /// Arborist's `optionalSet` of `start` with the `inert` nodes' edges ignored: the branch
    /// up to the first optional edges in (every dependent through an edge that is not
    /// optional), then every dependency of that branch, less those that something outside
    /// the set (not inert) needs, until nothing changes.
    fn optional_set(
        &self,
        start: &str,
        inert: &std::collections::BTreeSet<String>,
    ) -> std::collections::BTreeSet<String> {
        let mut set: Vec<String> = vec![start.to_owned()];
        let mut at = 0;
        while at < set.len() {
            for (from, optional) in self.into.get(&set[at]).into_iter().flatten() {
                if !optional && !set.iter().any(|known| known == from) {
                    set.push((*from).to_owned());
                }
            }
            at += 1;
        }
        // gatherDepSet with the filter `!set.has(edge.to) && !edge.from.inert`.
        let counts =
            |from: &str, to: &str| !set.iter().any(|known| known == to) && !inert.contains(from);
        let mut deps: Vec<String> = set.clone();
        let mut at = 0;
        while at < deps.len() {
            let from = deps[at].clone();
            for (to, _) in self.out.get(from.as_str()).into_iter().flatten() {
                if counts(&from, to) && !deps.contains(to) {
                    deps.push(to.clone());
                }
            }
            at += 1;
        }
        loop {
            let before = deps.len();
            let kept: Vec<String> = deps
                .iter()
                .filter(|dep| {
                    !self
                        .into
                        .get(dep.as_str())
                        .into_iter()
                        .flatten()
                        .any(|(from, _)| {
                            counts(from, dep) && !deps.iter().any(|known| known == from)
                        })
                })
                .cloned()
                .collect();
            deps = kept;
            if deps.len() == before || deps.is_empty() {
                break;
            }
        }
        deps.into_iter().collect()
    }
}

/// Where node finds `name` required from the package at `from`: its own `node_modules`,
/// then each enclosing one up to the project's.
fn resolve(
    locations: &std::collections::HashMap<&str, &Json>,
    from: &str,
    name: &str,
) -> Option<String> {
    let mut base = from;
    loop {
        let candidate = if base.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{base}/node_modules/{name}")
        };
        if locations.contains_key(candidate.as_str()) {
            return Some(candidate);
        }
        if base.is_empty() {
            return None;
        }
        base = base.rfind("/node_modules/").map_or("", |at| &base[..at]);
    }
}

/// The location of the package whose `node_modules` holds `location`.
#[must_use]
pub fn parent_location(location: &str) -> Option<&str> {
    let (parent, _) = location.rsplit_once("/node_modules/")?;
    Some(parent)
}

fn name_of(location: &str, entry: &Json) -> String {
    entry.text("name").map_or_else(
        || {
            location
                .rsplit_once("node_modules/")
                .map_or(location, |(_, tail)| tail)
                .to_owned()
        },
        str::to_owned,
    )
}

fn source_of(lockfile: &Path, location: &str, entry: &Json) -> Result<Source, RestoreError> {
    if entry.flag("link") {
        let target = entry.text("resolved").ok_or_else(|| {
            invalid(
                lockfile,
                format!("`{location}` is a link without `resolved`"),
            )
        })?;
        return Ok(Source::Link {
            target: target.to_owned(),
        });
    }
    if !location.contains("node_modules/") {
        return Ok(Source::Folder);
    }
    if entry.flag("inBundle") {
        return Ok(Source::Bundled);
    }
    let name = name_of(location, entry);
    let version = entry
        .text("version")
        .ok_or_else(|| invalid(lockfile, format!("`{location}` has no `version`")))?;
    let resolved = entry.text("resolved").map(str::to_owned);
    let integrity = entry.text("integrity").map(str::to_owned);
    if let Some(resolved) = &resolved
        && !(resolved.starts_with("https://") || resolved.starts_with("http://"))
    {
        return Err(invalid(
            lockfile,
            format!(
                "`{location}` comes from `{resolved}`, not a registry tarball: lading installs registry packages only (hint: use `npm ci` for this lockfile, or `lading restore` without `--install`)"
            ),
        ));
    }
    if resolved.is_some() && integrity.is_none() {
        return Err(invalid(
            lockfile,
            format!(
                "`{location}` has no `integrity`: lading installs only what it can verify (hint: regenerate the lockfile with a current npm so every entry has one)"
            ),
        ));
    }
    Ok(Source::Registry {
        name,
        version: version.to_owned(),
        resolved,
        integrity,
    })
}

/// `bin` as npm-normalize-package-bin leaves it: a string is the package name's bin; each
/// name is reduced to its base name, each path made relative and `/`-separated; entries
/// that reduce to nothing are dropped.
#[must_use]
pub fn normalize_bins(bin: Option<&Json>, package_name: &str) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = match bin {
        Some(Json::String(path)) => vec![(package_name.to_owned(), path.clone())],
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(Json::as_str)
            .map(|path| {
                let base = path.rsplit('/').next().unwrap_or(path).to_owned();
                (base, path.to_owned())
            })
            .collect(),
        Some(Json::Object(entries)) => entries
            .iter()
            .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
            .collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for (key, path) in pairs {
        let key = key.replace(['\\', ':'], "/");
        let base = normalize_path(key.rsplit('/').next().unwrap_or(&key));
        let target = normalize_path(&path.replace('\\', "/"));
        if base.is_empty() || target.is_empty() {
            continue;
        }
        if let Some(slot) = out.iter_mut().find(|(name, _)| *name == base) {
            slot.1 = target;
        } else {
            out.push((base, target));
        }
    }
    out
}

/// `path.join('/', path).slice(1)`: resolve `.` and `..` without going above the root.
fn normalize_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str, omit: Omit) -> Result<Plan, RestoreError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("package-lock.json");
        fs_err::write(&path, text).unwrap();
        read(&path, omit, false)
    }

    #[test]
    fn entries_omit_platforms_links_and_bundles() {
        let lock = r#"{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{
          "":{"name":"app","workspaces":["packages/w"]},
          "node_modules/w":{"resolved":"packages/w","link":true},
          "packages/w":{"name":"w","version":"1.0.0"},
          "node_modules/a":{"version":"1.0.0","resolved":"https://r/a/-/a-1.0.0.tgz","integrity":"sha512-AA==","bin":{"a":"./bin/../cli.js","x/y":"z"}},
          "node_modules/a/node_modules/b":{"version":"2.0.0","inBundle":true},
          "node_modules/d":{"version":"1.0.0","integrity":"sha512-AA==","dev":true},
          "node_modules/d/node_modules/e":{"version":"1.0.0","integrity":"sha512-AA==","dev":true},
          "node_modules/o":{"version":"1.0.0","integrity":"sha512-AA==","optional":true,"os":["plan9"]}
        }}"#;
        let all = plan(lock, Omit::default()).unwrap();
        let locations: Vec<&str> = all
            .nodes
            .iter()
            .map(|node| node.location.as_str())
            .collect();
        assert_eq!(
            locations,
            [
                "node_modules/w",
                "packages/w",
                "node_modules/a",
                "node_modules/a/node_modules/b",
                "node_modules/d",
                "node_modules/d/node_modules/e"
            ]
        );
        assert_eq!(
            all.nodes[2].bins,
            [
                ("a".to_owned(), "cli.js".to_owned()),
                ("y".to_owned(), "z".to_owned())
            ]
        );
        assert_eq!(all.nodes[3].source, Source::Bundled);
        let production = plan(
            lock,
            Omit {
                dev: true,
                ..Omit::default()
            },
        )
        .unwrap();
        assert_eq!(production.nodes.len(), 4);
        assert_eq!(
            Json::Object(production.header).pretty(),
            "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 3,\n  \"requires\": true\n}"
        );
    }

    #[test]
    fn an_optional_package_for_another_platform_goes_with_its_optional_set() {
        let lock = r#"{"lockfileVersion":3,"packages":{
          "":{"name":"app","dependencies":{"a":"1"},"optionalDependencies":{"o":"1"}},
          "node_modules/a":{"version":"1.0.0","integrity":"sha512-AA==","dependencies":{"shared":"1"}},
          "node_modules/o":{"version":"1.0.0","integrity":"sha512-AA==","optional":true,"os":["plan9"],"dependencies":{"only-o":"1","shared":"1","deep":"1"}},
          "node_modules/only-o":{"version":"1.0.0","integrity":"sha512-AA==","optional":true,"dependencies":{"deep":"1"}},
          "node_modules/deep":{"version":"1.0.0","integrity":"sha512-AA==","optional":true},
          "node_modules/o/node_modules/nested":{"version":"1.0.0","integrity":"sha512-AA==","optional":true},
          "node_modules/shared":{"version":"1.0.0","integrity":"sha512-AA=="}
        }}"#;
        let plan = plan(lock, Omit::default()).unwrap();
        let locations: Vec<&str> = plan
            .nodes
            .iter()
            .map(|node| node.location.as_str())
            .collect();
        assert_eq!(locations, ["node_modules/a", "node_modules/shared"]);
        assert_eq!(plan.skipped.len(), 3, "{:?}", plan.skipped);
    }

    #[test]
    fn a_dev_optional_package_for_another_platform_is_refused_unless_omitted() {
        // `devOptional` is not `optional`: npm's platform check refuses it, unless `--omit`
        // leaves it out (dev and optional both).
        let lock = r#"{"lockfileVersion":3,"packages":{
          "node_modules/x":{"version":"1.0.0","integrity":"sha512-AA==","devOptional":true,"os":["plan9"]}
        }}"#;
        for omit in [
            Omit::default(),
            Omit {
                dev: true,
                ..Omit::default()
            },
        ] {
            assert!(
                plan(lock, omit)
                    .unwrap_err()
                    .to_string()
                    .contains("`node_modules/x` is for another platform"),
            );
        }
        let omitted = plan(
            lock,
            Omit {
                dev: true,
                optional: true,
                peer: false,
            },
        )
        .unwrap();
        assert!(omitted.nodes.is_empty());
    }

    #[test]
    fn optional_sets_ignore_edges_from_earlier_inert_packages() {
        // `a` and `b` (both for another platform) share `c`, needed by nothing else: `a`'s
        // set keeps `c` (`b` still needs it), `b`'s takes it (`a` is inert by then). `b`'s
        // optional dependency `d` goes with it, and `e`, which the root also wants
        // (optionally), stays.
        let lock = r#"{"lockfileVersion":3,"packages":{
          "":{"name":"app","optionalDependencies":{"a":"1","b":"1","e":"1"}},
          "node_modules/a":{"version":"1.0.0","integrity":"sha512-AA==","optional":true,"os":["plan9"],"dependencies":{"c":"1","e":"1"}},
          "node_modules/b":{"version":"1.0.0","integrity":"sha512-AA==","optional":true,"os":["plan9"],"dependencies":{"c":"1"},"optionalDependencies":{"d":"1"}},
          "node_modules/c":{"version":"1.0.0","integrity":"sha512-AA==","optional":true},
          "node_modules/d":{"version":"1.0.0","integrity":"sha512-AA==","optional":true},
          "node_modules/e":{"version":"1.0.0","integrity":"sha512-AA==","optional":true}
        }}"#;
        let plan = plan(lock, Omit::default()).unwrap();
        let locations: Vec<&str> = plan
            .nodes
            .iter()
            .map(|node| node.location.as_str())
            .collect();
        assert_eq!(locations, ["node_modules/e"], "{:?}", plan.skipped);
    }

    #[test]
    fn what_npm_ci_would_do_otherwise_is_refused_naming_the_entry() {
        let git = r#"{"lockfileVersion":3,"packages":{"node_modules/g":{"version":"1.0.0","resolved":"git+ssh://git@github.com/x/g.git#abc"}}}"#;
        assert!(
            plan(git, Omit::default())
                .unwrap_err()
                .to_string()
                .contains("`node_modules/g`")
        );
        let required = r#"{"lockfileVersion":3,"packages":{"node_modules/p":{"version":"1.0.0","integrity":"sha512-AA==","os":["plan9"]}}}"#;
        assert!(
            plan(required, Omit::default())
                .unwrap_err()
                .to_string()
                .contains("EBADPLATFORM")
        );
        let v1 = r#"{"lockfileVersion":1,"dependencies":{}}"#;
        assert!(
            plan(v1, Omit::default())
                .unwrap_err()
                .to_string()
                .contains("npm install --package-lock-only")
        );
    }
}
