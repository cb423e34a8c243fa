//! Unpack one wheel into a virtual environment as pip does it (the binary distribution
//! format, PEP 427; pip's `operations/install/wheel.py`), so the environment lading writes
//! is the one `pip install --require-hashes` writes, file for file:
//!
//! - every archive member but directories lands under the root scheme (`purelib` when
//!   `WHEEL` says `Root-Is-Purelib: true`, else `platlib`), or, below
//!   `<name>-<version>.data/<scheme>/`, in that scheme (`purelib`, `platlib`, `scripts`,
//!   `headers`, `data`);
//! - a `.data/scripts/` file whose first line is `#!python` gets the environment's
//!   interpreter instead; one named like an entry point is left out (setuptools' wrapper);
//! - console and GUI entry points become launchers in `scripts` with pip's template and
//!   distlib's shebang (the `/bin/sh` trampoline past 127 bytes or with a space);
//! - `INSTALLER` (`lading`) and `REQUESTED` join the `.dist-info` directory, and `RECORD`
//!   is rewritten with the installed paths (relative to the root scheme), the hashes of
//!   what changed and of what was generated, sorted, with CRLF line ends.
//!
//! Unlike pip, every member is checked against the wheel's own `RECORD` (hash and size)
//! while it is written, and a member whose path is absolute or climbs out (`..`) refuses
//! the whole wheel. Members are written as regular files (a symlink member becomes a file
//! holding its target's name, as pip writes it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;

use super::normalize_name;

/// Where a wheel's files go: the target interpreter's install schemes, as pip computes them
/// in a virtual environment.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Layout {
    /// `sys.executable` of the environment: the launchers' shebang.
    pub executable: String,
    /// `sys.prefix`.
    pub prefix: PathBuf,
    /// Pure-Python modules.
    pub purelib: PathBuf,
    /// Extension modules.
    pub platlib: PathBuf,
    /// Launchers and scripts (`bin`).
    pub scripts: PathBuf,
    /// The `data` scheme (the prefix).
    pub data: PathBuf,
    /// `sys.version_info[:2]`.
    pub version: (u32, u32),
    /// `sys.implementation.cache_tag` (`cpython-311`): the name of byte-compiled files.
    pub cache_tag: Option<String>,
}

impl Layout {
    /// pip's header directory in a virtual environment for project `name` (as the
    /// requirement spells it): `<prefix>/include/site/pythonX.Y/<name>`.
    #[must_use]
    pub fn headers(&self, name: &str) -> PathBuf {
        self.prefix
            .join("include")
            .join("site")
            .join(format!("python{}.{}", self.version.0, self.version.1))
            .join(name)
    }
}

/// A wheel that cannot be installed.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// The archive breaks the wheel format.
    #[error("`{wheel}`: {message}")]
    Invalid {
        /// The wheel's file name.
        wheel: String,
        /// What is wrong.
        message: String,
    },
    /// A member's bytes differ from what the wheel's `RECORD` lists.
    #[error(
        "`{wheel}`: `{member}` does not match the wheel's RECORD (listed {expected}, holds {actual})"
    )]
    RecordMismatch {
        /// The wheel's file name.
        wheel: String,
        /// The archive member.
        member: String,
        /// `sha256=...,size` as listed.
        expected: String,
        /// `sha256=...,size` as read.
        actual: String,
    },
    /// A member whose path is absolute or leaves its scheme directory.
    #[error("`{wheel}`: member `{member}` would be written outside the environment")]
    UnsafePath {
        /// The wheel's file name.
        wheel: String,
        /// The archive member.
        member: String,
    },
    /// The archive cannot be read.
    #[error("`{wheel}`: cannot read the archive")]
    Zip {
        /// The wheel's file name.
        wheel: String,
        /// The zip reader's error.
        #[source]
        source: zip::result::ZipError,
    },
    /// Reading or writing a file failed.
    #[error("`{wheel}`: cannot write `{}`", path.display())]
    Io {
        /// The wheel's file name.
        wheel: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl WheelError {
    /// What to do about it.
    #[must_use]
    pub const fn hint(&self) -> &'static str {
        match self {
            Self::Invalid { .. } | Self::RecordMismatch { .. } | Self::UnsafePath { .. } => {
                "the file matches the lockfile's hash, so the wheel itself is broken: pin another build of the project, or report it to its maintainers"
            }
            Self::Zip { .. } => {
                "the file matches the lockfile's hash but is not a readable zip archive: pin another build of the project"
            }
            Self::Io { .. } => "check that the environment's directory is writable and has room",
        }
    }
}

/// One row of a `RECORD` file: path, `algorithm=digest`, size.
pub type RecordRow = (String, String, String);

/// A wheel unpacked into the environment, its `RECORD` still to write (byte compilation
/// may add rows).
#[derive(Debug)]
pub struct Installed {
    /// The project name as the `.dist-info` directory spells it.
    pub project: String,
    /// Its version as the `.dist-info` directory spells it.
    pub version: String,
    /// The root scheme's directory (`RECORD` paths are relative to it).
    pub lib_dir: PathBuf,
    /// The `.dist-info` directory's name.
    pub dist_info: String,
    /// `RECORD` rows, unsorted.
    pub rows: Vec<RecordRow>,
    /// Installed `.py` files (absolute), which `--compile` byte-compiles.
    pub python_files: Vec<PathBuf>,
}

impl Installed {
    /// Write `RECORD` (after byte compilation, whose files it lists without hashes, as pip
    /// lists them).
    ///
    /// # Errors
    /// I/O failures.
    pub fn write_record(&mut self, wheel: &str) -> Result<(), WheelError> {
        self.rows.sort();
        self.rows.dedup();
        let mut text = String::new();
        for (path, hash, size) in &self.rows {
            text.push_str(&csv_field(path));
            text.push(',');
            text.push_str(&csv_field(hash));
            text.push(',');
            text.push_str(&csv_field(size));
            text.push_str("\r\n");
        }
        let path = self.lib_dir.join(&self.dist_info).join("RECORD");
        write_new(&path, text.as_bytes(), false).map_err(|source| WheelError::Io {
            wheel: wheel.to_owned(),
            path,
            source,
        })
    }
}

/// What pip's `csv.writer` quotes: a field holding the delimiter, a quote or a line end.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// One line of a CSV file as Python's `csv.reader` splits it (`"` quotes, `""` escapes).
fn csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut characters = line.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '"' if quoted && characters.peek() == Some(&'"') => {
                characters.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            other => field.push(other),
        }
    }
    fields.push(field);
    fields
}

/// `sha256=<urlsafe base64 without padding>` of `bytes`, as `RECORD` lists hashes.
#[must_use]
pub fn record_hash(bytes: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
    )
}

/// The hasher for a `RECORD` hash's algorithm (the wheel spec allows sha256 and stronger).
fn hasher(algorithm: &str) -> Option<aws_lc_rs::digest::Context> {
    let algorithm = match algorithm {
        "sha256" => &aws_lc_rs::digest::SHA256,
        "sha384" => &aws_lc_rs::digest::SHA384,
        "sha512" => &aws_lc_rs::digest::SHA512,
        _ => return None,
    };
    Some(aws_lc_rs::digest::Context::new(algorithm))
}

/// An archive member's path as plain components, or `None` when it is absolute, climbs
/// (`..`), or holds a backslash, a NUL or a drive (`C:`).
fn member_components(member: &str) -> Option<Vec<&str>> {
    if member.starts_with('/') || member.contains(['\\', '\0']) {
        return None;
    }
    let components: Vec<&str> = member
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if components.is_empty() || components.contains(&"..") || components[0].contains(':') {
        return None;
    }
    Some(components)
}

/// `to` relative to the directory `from`, lexically (as Python's `os.path.relpath` on
/// absolute paths), with `/` separators: `../../../bin/tool`.
#[must_use]
pub fn relative_path(to: &Path, from: &Path) -> String {
    let to: Vec<Component> = to.components().collect();
    let from: Vec<Component> = from.components().collect();
    let common = to
        .iter()
        .zip(&from)
        .take_while(|(left, right)| left == right)
        .count();
    let mut parts: Vec<String> =
        std::iter::repeat_n("..".to_owned(), from.len() - common).collect();
    parts.extend(
        to[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Write `bytes` to a new file at `path` (a file already there is unlinked first, as pip
/// does, so a process mapping the old one keeps it); `executable` as pip marks members:
/// the default mode plus `+x` for all.
fn write_new(path: &Path, bytes: &[u8], executable: bool) -> std::io::Result<()> {
    let mut file = create(path, executable)?;
    file.write_all(bytes)
}

fn create(path: &Path, executable: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if executable { 0o777 } else { 0o666 });
    }
    let file = match options.open(path) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            fs_err::remove_file(path)?;
            options.open(path)?
        }
        other => other?,
    };
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o111 != 0o111 {
            file.set_permissions(std::fs::Permissions::from_mode((mode | 0o111) & 0o7777))?;
        }
    }
    Ok(file)
}

/// The fields of an email-header file (`WHEEL`), the first value of each.
fn headers(text: &str) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            fields
                .entry(key.trim().to_owned())
                .or_insert_with(|| value.trim().to_owned());
        }
    }
    fields
}

/// Entry points of one group, name and value, in file order.
type EntryPoints = Vec<(String, String)>;

/// `console_scripts` and `gui_scripts` of an `entry_points.txt`, read as
/// `importlib.metadata` reads it (a later duplicate wins).
fn entry_points(text: &str) -> (EntryPoints, EntryPoints) {
    let mut console: Vec<(String, String)> = Vec::new();
    let mut gui: Vec<(String, String)> = Vec::new();
    let mut section = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = Some(line.trim_matches(['[', ']']).to_owned());
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let list = match section.as_deref() {
            Some("console_scripts") => &mut console,
            Some("gui_scripts") => &mut gui,
            _ => continue,
        };
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        match list.iter_mut().find(|(seen, _)| *seen == name) {
            Some(entry) => entry.1 = value,
            None => list.push((name, value)),
        }
    }
    (console, gui)
}

/// pip's console scripts for an entry-point list: `pip` and `easy_install` also get their
/// versioned names (`pip3`, `pip3.11`), and other versioned names of theirs are dropped.
fn console_script_specs(
    console: &[(String, String)],
    version: (u32, u32),
) -> Vec<(String, String)> {
    let mut console: Vec<(String, String)> = console.to_vec();
    let mut scripts = Vec::new();
    let take = |console: &mut Vec<(String, String)>, name: &str| {
        let at = console.iter().position(|(seen, _)| seen == name)?;
        Some(console.remove(at).1)
    };
    if let Some(pip) = take(&mut console, "pip") {
        scripts.push(("pip".to_owned(), pip.clone()));
        scripts.push((format!("pip{}", version.0), pip.clone()));
        scripts.push((format!("pip{}.{}", version.0, version.1), pip));
        console.retain(|(name, _)| !is_versioned(name, "pip", ""));
    }
    if let Some(easy_install) = take(&mut console, "easy_install") {
        scripts.push(("easy_install".to_owned(), easy_install.clone()));
        scripts.push((
            format!("easy_install-{}.{}", version.0, version.1),
            easy_install,
        ));
        console.retain(|(name, _)| !is_versioned(name, "easy_install", "-"));
    }
    scripts.extend(console);
    scripts
}

/// `pip`, `pip3`, `pip3.11` (`base` then digits, optionally `.digits`; `separator` before
/// the digits), as pip's regular expressions match them.
fn is_versioned(name: &str, base: &str, separator: &str) -> bool {
    let Some(rest) = name.strip_prefix(base) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(rest) = rest.strip_prefix(separator) else {
        return false;
    };
    let (major, minor) = match rest.split_once('.') {
        Some((major, minor)) => (major, Some(minor)),
        None => (rest, None),
    };
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    digits(major) && minor.is_none_or(digits) && (separator.is_empty() || minor.is_some())
}

/// An entry point's `module:attribute` (extras in `[...]` ignored), as distlib's
/// `get_export_entry` reads it.
fn callable(wheel: &str, name: &str, value: &str) -> Result<(String, String), WheelError> {
    let value = value.split('[').next().unwrap_or(value).trim();
    let invalid = |why: &str| WheelError::Invalid {
        wheel: wheel.to_owned(),
        message: format!("entry point `{name} = {value}` {why}"),
    };
    let (module, attribute) = value
        .split_once(':')
        .ok_or_else(|| invalid("has no `:callable` suffix"))?;
    let word = |text: &str| {
        !text.is_empty()
            && text.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_')
            })
    };
    if !word(module) || !word(attribute) {
        return Err(invalid("is not `module:callable`"));
    }
    Ok((module.to_owned(), attribute.to_owned()))
}

/// distlib's shebang for `executable`: `#!<path>` when it is short (127 bytes with `#!`
/// and the line end), has no space and is not a script itself; else the `/bin/sh`
/// trampoline.
#[must_use]
pub fn shebang(executable: &str) -> String {
    let is_script = fs_err::File::open(executable)
        .and_then(|mut file| {
            let mut start = [0_u8; 2];
            file.read_exact(&mut start).map(|()| start == *b"#!")
        })
        .unwrap_or(false);
    if !executable.contains(' ') && executable.len() + 3 <= 127 && !is_script {
        format!("#!{executable}\n")
    } else {
        let quoted = if executable.contains(' ') && !executable.starts_with('"') {
            format!("\"{executable}\"")
        } else {
            executable.to_owned()
        };
        format!("#!/bin/sh\n'''exec' {quoted} \"$0\" \"$@\"\n' '''\n")
    }
}

/// The launcher pip writes for an entry point (pip's `PipScriptMaker` template; the
/// `re`-based one for Pythons before 3.9, which lack `str.removesuffix`).
#[must_use]
pub fn launcher(shebang: &str, module: &str, attribute: &str, version: (u32, u32)) -> String {
    let import_name = attribute.split('.').next().unwrap_or(attribute);
    if version >= (3, 9) {
        format!(
            "{shebang}import sys\nfrom {module} import {import_name}\nif __name__ == '__main__':\n    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit({attribute}())\n"
        )
    } else {
        format!(
            "{shebang}# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {import_name}\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit({attribute}())\n"
        )
    }
}

/// Whether a `.data/scripts/` file is setuptools' wrapper for an entry point (pip leaves
/// those out and writes its own).
fn is_entry_point_wrapper(file_name: &str, entry_points: &HashSet<&str>) -> bool {
    let lower = file_name.to_lowercase();
    let suffix = [".exe", ".pya", "-script.py"]
        .iter()
        .find(|suffix| lower.strip_suffix(**suffix).is_some())
        .map_or(0, |suffix| suffix.len());
    let stem = file_name
        .get(..file_name.len() - suffix)
        .unwrap_or(file_name);
    entry_points.contains(stem)
}

/// The version in a `.dist-info` directory name: `name-version.dist-info`.
#[must_use]
pub fn dist_info_version(directory: &str) -> Option<(&str, &str)> {
    directory.strip_suffix(".dist-info")?.split_once('-')
}

/// Unpack the wheel at `path` (file name `wheel` on the index, of project `name` as the
/// requirement spells it) into `layout`'s schemes; `RECORD` is left to
/// [`Installed::write_record`]. On failure the files written so far are removed.
///
/// # Errors
/// See [`WheelError`].
pub fn install(
    layout: &Layout,
    path: &Path,
    wheel: &str,
    name: &str,
) -> Result<Installed, WheelError> {
    let mut written = Vec::new();
    let result = unpack(layout, path, wheel, name, &mut written);
    if result.is_err() {
        for file in written.iter().rev() {
            let _ = fs_err::remove_file(file);
        }
    }
    result
}

fn unpack(
    layout: &Layout,
    path: &Path,
    wheel: &str,
    name: &str,
    written: &mut Vec<PathBuf>,
) -> Result<Installed, WheelError> {
    let invalid = |message: String| WheelError::Invalid {
        wheel: wheel.to_owned(),
        message,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WheelError::Io {
            wheel: wheel.to_owned(),
            path,
            source,
        }
    };
    let zip_error = |source| WheelError::Zip {
        wheel: wheel.to_owned(),
        source,
    };
    let file = fs_err::File::open(path).map_err(io(path))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::with_capacity(1 << 16, file))
        .map_err(zip_error)?;
    let members: Vec<String> = archive.file_names().map(str::to_owned).collect();

    // pip's `wheel_dist_info_dir`: exactly one top-level `.dist-info` directory, of this
    // project.
    let mut info_dirs: Vec<&str> = members
        .iter()
        .filter_map(|member| member.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    info_dirs.sort_unstable();
    info_dirs.dedup();
    let [info_dir] = info_dirs[..] else {
        return Err(invalid(format!(
            "a wheel has exactly one `.dist-info` directory, this one has {}",
            info_dirs.len()
        )));
    };
    let info_dir = info_dir.to_owned();
    let (project, version) = dist_info_version(&info_dir)
        .ok_or_else(|| invalid(format!("`{info_dir}` is not `name-version.dist-info`")))?;
    let (project, version) = (project.to_owned(), version.to_owned());
    if normalize_name(&project) != normalize_name(name) {
        return Err(invalid(format!(
            "its `.dist-info` directory `{info_dir}` is not of `{name}`"
        )));
    }
    let mut read_text = |member: &str| -> Result<Option<String>, WheelError> {
        let Ok(mut entry) = archive.by_name(member) else {
            return Ok(None);
        };
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|source| invalid(format!("`{member}` is not UTF-8 text: {source}")))?;
        Ok(Some(text))
    };
    let wheel_file = read_text(&format!("{info_dir}/WHEEL"))?
        .ok_or_else(|| invalid(format!("`{info_dir}/WHEEL` is missing")))?;
    let wheel_fields = headers(&wheel_file);
    let wheel_version = wheel_fields
        .get("Wheel-Version")
        .cloned()
        .unwrap_or_default();
    if wheel_version.split('.').next() != Some("1") {
        return Err(invalid(format!(
            "Wheel-Version `{wheel_version}` is not 1.x, which this installer supports"
        )));
    }
    let purelib = wheel_fields
        .get("Root-Is-Purelib")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    let lib_dir = if purelib {
        layout.purelib.clone()
    } else {
        layout.platlib.clone()
    };
    let record_member = format!("{info_dir}/RECORD");
    let record_text = read_text(&record_member)?
        .ok_or_else(|| invalid(format!("`{record_member}` is missing")))?;
    let record: Vec<Vec<String>> = record_text
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.is_empty())
        .map(csv_line)
        .collect();
    let listed: HashMap<&str, (&str, &str)> = record
        .iter()
        .map(|row| {
            (
                row[0].as_str(),
                (
                    row.get(1).map_or("", String::as_str),
                    row.get(2).map_or("", String::as_str),
                ),
            )
        })
        .collect();
    let (console, gui) = match read_text(&format!("{info_dir}/entry_points.txt"))? {
        Some(text) => entry_points(&text),
        None => (Vec::new(), Vec::new()),
    };
    let entry_point_names: HashSet<&str> = console
        .iter()
        .chain(&gui)
        .map(|(name, _)| name.as_str())
        .collect();

    // Archive RECORD path -> installed RECORD path, and the installed paths rewritten.
    let mut installed: BTreeMap<String, String> = BTreeMap::new();
    let mut changed: HashMap<String, RecordRow> = HashMap::new();
    let mut python_files = Vec::new();
    let mut made_dirs: HashSet<PathBuf> = HashSet::new();
    let mut buffer = vec![0_u8; 1 << 16];
    let unsafe_path = |member: &str| WheelError::UnsafePath {
        wheel: wheel.to_owned(),
        member: member.to_owned(),
    };
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(zip_error)?;
        let member = entry.name().to_owned();
        if member.ends_with('/') {
            continue;
        }
        let components = member_components(&member).ok_or_else(|| unsafe_path(&member))?;
        if member == record_member {
            continue;
        }
        let mut is_script = false;
        let destination = if Path::new(components[0])
            .extension()
            .is_some_and(|extension| extension == "data")
        {
            let [_, scheme, rest @ ..] = &components[..] else {
                return Err(invalid(format!(
                    "`{member}`: `.data` members are named `<scheme>/<path>`"
                )));
            };
            if rest.is_empty() {
                return Err(invalid(format!(
                    "`{member}`: `.data` members are named `<scheme>/<path>`"
                )));
            }
            let base = match *scheme {
                "purelib" => layout.purelib.clone(),
                "platlib" => layout.platlib.clone(),
                "scripts" => {
                    is_script = true;
                    layout.scripts.clone()
                }
                "data" => layout.data.clone(),
                "headers" => layout.headers(name),
                other => {
                    return Err(invalid(format!(
                        "`{member}`: unknown scheme `{other}` (data, headers, platlib, purelib, scripts)"
                    )));
                }
            };
            if is_script && rest.len() == 1 && is_entry_point_wrapper(rest[0], &entry_point_names) {
                continue;
            }
            rest.iter().fold(base, |path, part| path.join(part))
        } else {
            components
                .iter()
                .fold(lib_dir.clone(), |path, part| path.join(part))
        };
        // Signatures of RECORD are not listed in it (the wheel spec).
        let unlisted_ok = member == format!("{info_dir}/RECORD.jws")
            || member == format!("{info_dir}/RECORD.p7s");
        let (expected_hash, expected_size) = match listed.get(member.as_str()) {
            Some(&(hash, size)) if !hash.is_empty() => (Some(hash), size),
            _ if unlisted_ok => (None, ""),
            Some(_) => {
                return Err(invalid(format!("`{member}` has no hash in RECORD")));
            }
            None => return Err(invalid(format!("`{member}` is not listed in RECORD"))),
        };
        let mut digest = match expected_hash {
            Some(hash) => {
                let (algorithm, _) = hash.split_once('=').unwrap_or((hash, ""));
                Some(hasher(algorithm).ok_or_else(|| {
                    invalid(format!(
                        "`{member}`: RECORD hash algorithm `{algorithm}` is not sha256, sha384 or sha512"
                    ))
                })?)
            }
            None => None,
        };
        let executable = entry
            .unix_mode()
            .is_some_and(|mode| mode & 0o170_000 == 0o100_000 && mode & 0o111 != 0);
        if let Some(parent) = destination.parent()
            && !made_dirs.contains(parent)
        {
            fs_err::create_dir_all(parent).map_err(io(parent))?;
            made_dirs.insert(parent.to_path_buf());
        }
        let mut size: u64 = 0;
        let mut rewritten = None;
        if is_script {
            // Small: read whole, to rewrite a `#!python` first line.
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|source| invalid(format!("`{member}`: {source}")))?;
            if let Some(digest) = &mut digest {
                digest.update(&bytes);
            }
            size = bytes.len() as u64;
            if bytes.starts_with(b"#!python") {
                let line_end = bytes
                    .iter()
                    .position(|byte| *byte == b'\n')
                    .map_or(bytes.len(), |at| at + 1);
                let mut fixed = format!("#!{}\n", layout.executable).into_bytes();
                fixed.extend_from_slice(&bytes[line_end..]);
                rewritten = Some(fixed);
            }
            let output = rewritten.as_deref().unwrap_or(&bytes);
            write_new(&destination, output, executable).map_err(io(&destination))?;
            written.push(destination.clone());
        } else {
            let mut output = create(&destination, executable).map_err(io(&destination))?;
            written.push(destination.clone());
            loop {
                let read = match entry.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(source) => return Err(invalid(format!("`{member}`: {source}"))),
                };
                if let Some(digest) = &mut digest {
                    digest.update(&buffer[..read]);
                }
                output
                    .write_all(&buffer[..read])
                    .map_err(io(&destination))?;
                size += read as u64;
            }
        }
        if let (Some(expected), Some(digest)) = (expected_hash, digest) {
            let (algorithm, _) = expected.split_once('=').unwrap_or((expected, ""));
            let actual = format!(
                "{algorithm}={}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.finish())
            );
            let size_differs = !expected_size.is_empty() && expected_size != size.to_string();
            if actual != expected.trim_end_matches('=') || size_differs {
                return Err(WheelError::RecordMismatch {
                    wheel: wheel.to_owned(),
                    member,
                    expected: format!("{expected},{expected_size}"),
                    actual: format!("{actual},{size}"),
                });
            }
        }
        let record_path = relative_path(&destination, &lib_dir);
        if let Some(fixed) = rewritten {
            changed.insert(
                record_path.clone(),
                (
                    record_path.clone(),
                    record_hash(&fixed),
                    fixed.len().to_string(),
                ),
            );
        }
        if Path::new(&record_path)
            .extension()
            .is_some_and(|extension| extension == "py")
        {
            // The path pip compiles (and so the `co_filename` in the `.pyc`): the root
            // scheme joined with the RECORD path, `../../../bin/x.py` left as it is.
            python_files.push(lib_dir.join(&record_path));
        }
        installed.insert(member, record_path);
    }

    // Launchers, then INSTALLER and REQUESTED: generated, so hashed here.
    let mut generated: Vec<RecordRow> = Vec::new();
    let launcher_shebang = shebang(&layout.executable);
    let mut scripts = console_script_specs(&console, layout.version);
    scripts.extend(gui);
    if !scripts.is_empty() {
        fs_err::create_dir_all(&layout.scripts).map_err(io(&layout.scripts))?;
    }
    for (script, value) in &scripts {
        let (module, attribute) = callable(wheel, script, value)?;
        if script.is_empty()
            || script.contains(['/', '\\', '\0'])
            || script == "."
            || script == ".."
        {
            return Err(invalid(format!(
                "entry point name `{script}` would be written outside the scripts directory"
            )));
        }
        let text = launcher(&launcher_shebang, &module, &attribute, layout.version);
        let destination = layout.scripts.join(script);
        let mut file = create(&destination, false).map_err(io(&destination))?;
        written.push(destination.clone());
        file.write_all(text.as_bytes()).map_err(io(&destination))?;
        #[cfg(unix)]
        {
            // distlib's `set_executable_mode`: the mode plus r-x for all.
            use std::os::unix::fs::PermissionsExt as _;
            let mode = file
                .metadata()
                .map_err(io(&destination))?
                .permissions()
                .mode();
            file.set_permissions(std::fs::Permissions::from_mode((mode | 0o555) & 0o7777))
                .map_err(io(&destination))?;
        }
        generated.push((
            relative_path(&destination, &lib_dir),
            record_hash(text.as_bytes()),
            text.len().to_string(),
        ));
    }
    let info_path = lib_dir.join(&info_dir);
    for (file_name, contents) in [("INSTALLER", &b"lading\n"[..]), ("REQUESTED", &b""[..])] {
        let destination = info_path.join(file_name);
        write_new(&destination, contents, false).map_err(io(&destination))?;
        written.push(destination);
        generated.push((
            format!("{info_dir}/{file_name}"),
            record_hash(contents),
            contents.len().to_string(),
        ));
    }

    // pip's `get_csv_rows_for_installed`: the wheel's rows at their installed paths (rehashed
    // where rewritten), the generated files, then anything installed the RECORD missed.
    let mut rows = Vec::with_capacity(record.len() + generated.len());
    for row in &record {
        let old = row[0].as_str();
        let new = installed.remove(old).unwrap_or_else(|| old.to_owned());
        match changed.remove(&new) {
            Some(rehashed) => rows.push(rehashed),
            None => rows.push((
                new,
                row.get(1).cloned().unwrap_or_default(),
                row.get(2).cloned().unwrap_or_default(),
            )),
        }
    }
    rows.extend(generated);
    rows.extend(
        installed
            .into_values()
            .map(|path| (path, String::new(), String::new())),
    );
    Ok(Installed {
        project,
        version,
        lib_dir,
        dist_info: info_dir,
        rows,
        python_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wheel of project `demo` holding `members` (name, bytes), with a RECORD listing
    /// `listed` (name, bytes hashed) and an entry point.
    fn wheel(dir: &Path, members: &[(&str, &[u8])], listed: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("demo-1.0-py3-none-any.whl");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        let mut record = String::new();
        let info: [(&str, &[u8]); 2] = [
            (
                "demo-1.0.dist-info/WHEEL",
                b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
            ),
            (
                "demo-1.0.dist-info/entry_points.txt",
                b"[console_scripts]\ndemo = demo:main\n",
            ),
        ];
        for (name, bytes) in info.iter().chain(members) {
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
        for (name, bytes) in info.iter().chain(listed) {
            record.push_str(&[*name, &record_hash(bytes), &bytes.len().to_string()].join(","));
            record.push('\n');
        }
        record.push_str("demo-1.0.dist-info/RECORD,,\n");
        writer
            .start_file("demo-1.0.dist-info/RECORD", options)
            .unwrap();
        writer.write_all(record.as_bytes()).unwrap();
        writer.finish().unwrap();
        path
    }

    fn layout(root: &Path) -> Layout {
        let site = root.join("lib/python3.11/site-packages");
        Layout {
            executable: root.join("bin/python").display().to_string(),
            prefix: root.to_path_buf(),
            purelib: site.clone(),
            platlib: site,
            scripts: root.join("bin"),
            data: root.to_path_buf(),
            version: (3, 11),
            cache_tag: Some("cpython-311".into()),
        }
    }

    #[test]
    fn a_wheel_installs_with_its_launcher_and_record() {
        let dir = tempfile::tempdir().unwrap();
        let module: &[u8] = b"def main():\n    return 0\n";
        let script: &[u8] = b"#!python\nprint('hi')\n";
        let members = [("demo.py", module), ("demo-1.0.data/scripts/tool", script)];
        let path = wheel(dir.path(), &members, &members);
        let root = dir.path().join("venv");
        let layout = layout(&root);
        let mut installed = install(&layout, &path, "demo-1.0-py3-none-any.whl", "Demo").unwrap();
        installed.write_record("demo").unwrap();
        let record =
            fs_err::read_to_string(layout.purelib.join("demo-1.0.dist-info/RECORD")).unwrap();
        let tool = fs_err::read_to_string(root.join("bin/tool")).unwrap();
        assert_eq!(tool, format!("#!{}\nprint('hi')\n", layout.executable));
        assert!(
            record.contains(&format!(
                "../../../bin/tool,{},{}\r\n",
                record_hash(tool.as_bytes()),
                tool.len()
            )),
            "{record}"
        );
        assert!(record.contains("../../../bin/demo,sha256="), "{record}");
        assert!(record.contains("demo-1.0.dist-info/REQUESTED,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\r\n"), "{record}");
        assert!(
            record.contains("demo-1.0.dist-info/RECORD,,\r\n"),
            "{record}"
        );
        assert_eq!(installed.python_files, vec![layout.purelib.join("demo.py")]);
    }

    #[test]
    fn a_wheel_that_escapes_or_lies_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("venv");
        let layout = layout(&root);
        let bad: &[u8] = b"x";
        for member in [
            "../../../../evil.py",
            "/tmp/evil.py",
            "demo-1.0.data/scripts/../../../evil",
        ] {
            let path = wheel(dir.path(), &[(member, bad)], &[(member, bad)]);
            let error = install(&layout, &path, "w.whl", "demo").unwrap_err();
            assert!(
                matches!(error, WheelError::UnsafePath { .. }),
                "{member}: {error}"
            );
        }
        assert!(!dir.path().join("evil.py").exists());
        let path = wheel(
            dir.path(),
            &[("demo.py", b"tampered")],
            &[("demo.py", b"original")],
        );
        let error = install(&layout, &path, "w.whl", "demo").unwrap_err();
        assert!(
            matches!(error, WheelError::RecordMismatch { .. }),
            "{error}"
        );
        assert!(
            !layout.purelib.join("demo.py").exists(),
            "a refused wheel leaves nothing"
        );
        let path = wheel(dir.path(), &[("demo.py", b"unlisted")], &[]);
        let error = install(&layout, &path, "w.whl", "demo").unwrap_err();
        assert!(
            error.to_string().contains("not listed in RECORD"),
            "{error}"
        );
        let path = wheel(dir.path(), &[], &[]);
        let error = install(&layout, &path, "w.whl", "other").unwrap_err();
        assert!(error.to_string().contains("is not of `other`"), "{error}");
    }

    #[test]
    fn record_fields_quote_as_python_csv_does() {
        assert_eq!(
            csv_line(r"a/b.py,sha256=x,12"),
            vec!["a/b.py", "sha256=x", "12"]
        );
        assert_eq!(
            csv_line(r#""a,""b"".py",sha256=x,"#),
            vec!["a,\"b\".py", "sha256=x", ""]
        );
        assert_eq!(csv_field("a,\"b\".py"), r#""a,""b"".py""#);
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn members_that_escape_are_refused() {
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\\..\\x",
            "C:/x",
            "a/\0",
            "",
        ] {
            assert!(member_components(bad).is_none(), "{bad:?}");
        }
        assert_eq!(
            member_components("a/./b//c.py"),
            Some(vec!["a", "b", "c.py"])
        );
    }

    #[test]
    fn record_paths_are_relative_to_the_root_scheme() {
        let lib = Path::new("/v/lib/python3.11/site-packages");
        assert_eq!(
            relative_path(Path::new("/v/bin/tool"), lib),
            "../../../bin/tool"
        );
        assert_eq!(
            relative_path(Path::new("/v/lib/python3.11/site-packages/a/b.py"), lib),
            "a/b.py"
        );
    }

    #[test]
    fn launchers_and_shebangs_are_pips() {
        assert_eq!(shebang("/v/bin/python"), "#!/v/bin/python\n");
        let long = format!("/{}/bin/python", "x".repeat(120));
        assert_eq!(
            shebang(&long),
            format!("#!/bin/sh\n'''exec' {long} \"$0\" \"$@\"\n' '''\n")
        );
        assert_eq!(
            shebang("/a b/python"),
            "#!/bin/sh\n'''exec' \"/a b/python\" \"$0\" \"$@\"\n' '''\n"
        );
        assert_eq!(
            launcher("#!/v/bin/python\n", "black", "patched_main", (3, 11)),
            "#!/v/bin/python\nimport sys\nfrom black import patched_main\nif __name__ == '__main__':\n    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(patched_main())\n"
        );
        assert_eq!(
            callable("w", "x", "pkg.cli:App.run [extra]").unwrap(),
            ("pkg.cli".to_owned(), "App.run".to_owned())
        );
        assert!(callable("w", "x", "pkg.cli").is_err());
    }

    #[test]
    fn pip_gets_its_versioned_launchers() {
        let console = vec![
            ("pip".to_owned(), "pip._internal.cli.main:main".to_owned()),
            ("pip3".to_owned(), "pip._internal.cli.main:main".to_owned()),
            (
                "pip3.9".to_owned(),
                "pip._internal.cli.main:main".to_owned(),
            ),
            ("pipx".to_owned(), "pipx.main:cli".to_owned()),
        ];
        let names: Vec<String> = console_script_specs(&console, (3, 11))
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["pip", "pip3", "pip3.11", "pipx"]);
        let (console, gui) = entry_points(
            "[console_scripts]\na = m:f\n# c\nb=m:g\n\n[gui_scripts]\nw = m:w\n[other]\nz = m:z\n",
        );
        assert_eq!(console.len(), 2);
        assert_eq!(gui, vec![("w".to_owned(), "m:w".to_owned())]);
    }
}
