//! npm: package names, tarball names, and the packument shapes shared by client and server.

pub mod cacache;
pub mod doctor;
pub mod install;
pub mod lockfile;
pub mod login;
pub mod npmrc;
pub mod pack;
pub mod pnpm;
pub mod publish;
pub mod restore;
pub mod restorer;
pub mod semver;
pub mod serve;
pub mod yarn_berry;
pub mod yarn_lock;
pub mod yarnrc;

use serde_json::{Map, Value};

/// Split `name@rest` at the `@` after the name (a scope's `@` is the first character):
/// `@scope/name@1.0.0` gives `("@scope/name", "1.0.0")`. `None` without a second part.
#[must_use]
pub fn split_at_version(spec: &str) -> Option<(&str, &str)> {
    let at = spec
        .char_indices()
        .skip(1)
        .find(|(_, character)| *character == '@')
        .map(|(at, _)| at)?;
    let (name, rest) = (&spec[..at], &spec[at + 1..]);
    (!name.is_empty()).then_some((name, rest))
}

/// Node's name for this machine's OS and CPU (`process.platform`, `process.arch`).
pub(crate) fn node_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let cpu = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        "powerpc64" => "ppc64",
        other => other,
    };
    (os, cpu)
}

/// The C library of this Linux machine as npm names it, found as npm finds it (the
/// `detect-libc` package): `musl` when `/usr/bin/ldd` is musl's, else `glibc`. (A musl
/// loader in `/lib` proves nothing: Debian's `musl` package puts one beside glibc.)
/// Read once per process: every optional lockfile entry asks.
fn linux_libc() -> &'static str {
    static LIBC: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    LIBC.get_or_init(|| {
        let ldd = fs_err::read("/usr/bin/ldd").unwrap_or_default();
        if ldd.windows(4).any(|window| window == b"musl") {
            "musl"
        } else {
            "glibc"
        }
    })
}

/// `node_platform()` and, on Linux, the C library (`glibc`, `musl`; empty elsewhere).
#[must_use]
pub fn node_platform_with_libc() -> (&'static str, &'static str, &'static str) {
    let (os, cpu) = node_platform();
    (os, cpu, if os == "linux" { linux_libc() } else { "" })
}

/// Whether a lockfile entry's `os`, `cpu` and (on Linux) `libc` lists (npm's syntax: names,
/// or `!name` to exclude; a lone `any` admits all; a string is a list of one) admit this
/// machine, as npm-install-checks' `checkPlatform` decides which optional packages npm and
/// pnpm install. A `libc` list excludes every machine that is not Linux, as npm has it.
pub(crate) fn for_this_platform(entry: &Value) -> bool {
    let (os, cpu, libc) = node_platform_with_libc();
    let admits = |field: &str, current: &str| {
        let names: Vec<&str> = match &entry[field] {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            Value::String(name) => vec![name.as_str()],
            _ => return true,
        };
        if names == ["any"] {
            return true;
        }
        if names
            .iter()
            .any(|name| name.strip_prefix('!') == Some(current))
        {
            return false;
        }
        let wanted: Vec<&&str> = names.iter().filter(|name| !name.starts_with('!')).collect();
        wanted.is_empty() || wanted.iter().any(|name| **name == current)
    };
    let libc_listed = matches!(entry["libc"], Value::Array(_) | Value::String(_));
    admits("os", os)
        && admits("cpu", cpu)
        && (!libc_listed || (!libc.is_empty() && admits("libc", libc)))
}

/// The version of the `node` on `PATH` (`node --version`: what npm's `process.version` is),
/// asked once per process and only when a package has `engines.node`; `None` without one.
fn running_node() -> Option<&'static str> {
    static NODE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    NODE.get_or_init(|| version_of_command("node")).as_deref()
}

/// The version of the `npm` on `PATH`, asked once per process and only when a package has
/// `engines.npm`: from its own `package.json` beside the `bin/npm-cli.js` that `npm` links
/// to (`npm --version` starts node and npm, a fifth of a second), else `npm --version`.
fn running_npm() -> Option<&'static str> {
    static NPM: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    NPM.get_or_init(|| npm_from_its_manifest().or_else(|| version_of_command("npm")))
        .as_deref()
}

fn version_of_command(program: &str) -> Option<String> {
    let output = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let version = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !version.is_empty()).then_some(version)
}

fn npm_from_its_manifest() -> Option<String> {
    let path = crate::env_vars::EnvVars::get(crate::env_vars::EnvVars::PATH)?;
    let npm = std::env::split_paths(&path)
        .map(|dir| dir.join("npm"))
        .find(|candidate| candidate.is_file())?;
    let cli = fs_err::canonicalize(npm).ok()?;
    let root = cli.parent()?.parent()?;
    let manifest: Value =
        serde_json::from_slice(&fs_err::read(root.join("package.json")).ok()?).ok()?;
    (manifest["name"] == "npm")
        .then(|| manifest["version"].as_str().map(str::to_owned))
        .flatten()
}

/// Why `engines` (a lockfile entry's or a `package.json`'s) exclude the running node or
/// npm, as npm-install-checks' `checkEngine` decides (ranges with prereleases included, an
/// invalid range excluding every version; a tool that is not there is not checked); `None`
/// when they admit both.
pub(crate) fn engines_mismatch(engines: Option<&Value>) -> Option<String> {
    let Some(Value::Object(engines)) = engines else {
        return None;
    };
    let mut failed = Vec::new();
    for (tool, running) in [
        ("node", running_node as fn() -> Option<&'static str>),
        ("npm", running_npm),
    ] {
        // JavaScript's truthiness: an empty string, `false`, `0` and `null` ask nothing.
        let range = match engines.get(tool) {
            None | Some(Value::Null | Value::Bool(false)) => continue,
            Some(Value::String(range)) if range.is_empty() => continue,
            Some(Value::Number(number)) if number.as_f64() == Some(0.0) => continue,
            Some(range) => range,
        };
        let Some(version) = running() else {
            continue;
        };
        let satisfied = range.as_str().is_some_and(|range| {
            semver::Version::parse(version).is_some_and(|parsed| semver::satisfies(&parsed, range))
        });
        if !satisfied {
            let range = range
                .as_str()
                .map_or_else(|| range.to_string(), str::to_owned);
            failed.push(format!("{tool} {range} (this is {version})"));
        }
    }
    (!failed.is_empty()).then(|| format!("engines want {}", failed.join(", ")))
}

/// The media type of the abbreviated ("corgi") packument npm asks for when installing.
pub const ABBREVIATED_MEDIA_TYPE: &str = "application/vnd.npm.install-v1+json";

/// Fields kept in an abbreviated version manifest (what `npm install` needs).
const ABBREVIATED_FIELDS: &[&str] = &[
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "dist",
    "engines",
    "os",
    "cpu",
    "libc",
    "deprecated",
    "funding",
    "license",
    "_hasShrinkwrap",
    "hasInstallScript",
];

/// A validated npm package name, split into scope (without `@`) and bare name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageName {
    /// Scope without `@`, if any.
    pub scope: Option<String>,
    /// Name without the scope.
    pub name: String,
}

/// Why a package name is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid npm package name `{name}`: {reason}")]
pub struct InvalidName {
    /// The name as given.
    pub name: String,
    /// Why.
    pub reason: &'static str,
}

fn valid_part(part: &str) -> bool {
    !part.is_empty()
        && !part.starts_with('.')
        && !part.starts_with('_')
        && part.bytes().all(|byte| {
            byte.is_ascii_lowercase()
                || byte.is_ascii_digit()
                || matches!(byte, b'-' | b'.' | b'_' | b'~')
        })
}

impl PackageName {
    /// Parse `name` or `@scope/name` following npm's rules for new packages (lowercase,
    /// URL-safe, at most 214 characters).
    ///
    /// # Errors
    /// [`InvalidName`] with the reason.
    ///
    /// ```
    /// use lading::ecosystem::npm::PackageName;
    /// let name = PackageName::parse("@acme/tool").unwrap();
    /// assert_eq!(name.scope.as_deref(), Some("acme"));
    /// assert_eq!(name.to_string(), "@acme/tool");
    /// assert_eq!(name.tarball_file_name("1.0.0"), "tool-1.0.0.tgz");
    /// ```
    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        let invalid = |reason| InvalidName {
            name: text.to_owned(),
            reason,
        };
        if text.len() > 214 {
            return Err(invalid("longer than 214 characters"));
        }
        let (scope, name) = match text.strip_prefix('@') {
            Some(rest) => {
                let (scope, name) = rest
                    .split_once('/')
                    .ok_or_else(|| invalid("a scoped name must look like `@scope/name`"))?;
                (Some(scope), name)
            }
            None => (None, text),
        };
        if let Some(scope) = scope
            && !valid_part(scope)
        {
            return Err(invalid("the scope must be lowercase and URL-safe"));
        }
        if !valid_part(name) {
            return Err(invalid(
                "the name must be lowercase, URL-safe, and not start with `.` or `_`",
            ));
        }
        Ok(Self {
            scope: scope.map(ToOwned::to_owned),
            name: name.to_owned(),
        })
    }

    /// `<name>-<version>.tgz`, the file name npm gives a tarball (without the scope).
    #[must_use]
    pub fn tarball_file_name(&self, version: &str) -> String {
        format!("{}-{version}.tgz", self.name)
    }
}

impl std::fmt::Display for PackageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.scope {
            Some(scope) => write!(f, "@{scope}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Reduce a full version manifest to the abbreviated form.
#[must_use]
pub fn abbreviate_manifest(manifest: &Value) -> Value {
    let Some(object) = manifest.as_object() else {
        return manifest.clone();
    };
    let kept: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| ABBREVIATED_FIELDS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Value::Object(kept)
}

/// The `sha512-<base64>` SRI string for bytes whose SHA-512 is `sha512_hex`.
#[must_use]
pub fn integrity_from_sha512_hex(sha512_hex: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = hex::decode(sha512_hex).ok()?;
    Some(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// The npm format's implementation: its capabilities (see [`crate::ecosystem::registry`]).
#[derive(Debug, Clone, Copy)]
pub struct Npm;

impl crate::ecosystem::capabilities::Ecosystem for Npm {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Npm
    }

    fn pack(&self) -> Option<&dyn crate::ecosystem::pack::Pack> {
        Some(self)
    }

    fn publish(&self) -> Option<&dyn crate::ecosystem::publish::Publish> {
        Some(self)
    }

    fn data_plane(&self) -> Option<&'static dyn crate::server::data_plane::DataPlane> {
        Some(&serve::NpmDataPlane)
    }

    fn configure(&self) -> Option<&dyn crate::ecosystem::configure::Configure> {
        Some(self)
    }

    fn restore(&self) -> Option<&dyn crate::ecosystem::restore::Restore> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert_eq!(PackageName::parse("left-pad").unwrap().scope, None);
        assert!(PackageName::parse("Left-Pad").is_err());
        assert!(PackageName::parse("@scope").is_err());
        assert!(PackageName::parse("@Scope/x").is_err());
        assert!(PackageName::parse(".hidden").is_err());
        assert!(PackageName::parse("a/b").is_err());
    }

    #[test]
    fn abbreviation_drops_readme_and_scripts() {
        let manifest = serde_json::json!({"name": "a", "version": "1.0.0", "readme": "long", "scripts": {"x": "y"}, "dist": {"shasum": "s"}});
        assert_eq!(
            abbreviate_manifest(&manifest),
            serde_json::json!({"name": "a", "version": "1.0.0", "dist": {"shasum": "s"}})
        );
    }
}
