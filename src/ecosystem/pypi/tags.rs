//! The target interpreter of a pip restore and its PEP 425 compatibility tags, in pip's
//! order of preference, so that the restore picks per requirement the one file pip would
//! install: the wheel whose best tag ranks first (the highest build number among equals),
//! an sdist only when no wheel fits.
//!
//! The order is pip's `compatibility_tags.get_supported()` over `packaging.tags` (pip 26.3,
//! packaging 26.3): `cpXY-<abi>-<platform>` for each ABI, `cpXY-abi3-<platform>`,
//! `cpXY-none-<platform>`, `cpXW-abi3-<platform>` for older minors down to 3.2, then
//! `pyXY-none-<platform>`, `pyX-none-<platform>`, older `pyXW-none-<platform>`, then
//! `cpXY-none-any`, `pyXY-none-any`, `pyX-none-any`, ... . On Linux the platforms are
//! `linux_<arch>`, then `manylinux_2_N_<arch>` from the C library's version down (with the
//! legacy `manylinux2014` / `manylinux2010` / `manylinux1` aliases after 2.17, 2.12 and 2.5),
//! then `musllinux_1_N_<arch>` on musl.
//!
//! By default the target is found by running the interpreter (`python3` on `PATH`, or
//! `--python`) and asking it for what `packaging` reads; `--python-version`, `--platform`,
//! `--abi` and `--implementation` override parts of it exactly as they do for
//! `pip download`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::markers::Environment;
use super::pep440::Version;

pub use crate::ecosystem::restore::PythonTargetArgs as TargetArgs;

/// What is needed of an interpreter to list its tags.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InterpreterFacts {
    /// `packaging.tags.interpreter_name()`: `cp`, `pp`, ...
    pub implementation: String,
    /// `py_version_nodot`, `311`.
    pub version_nodot: String,
    /// `sys.version_info[:2]`.
    pub version: (u32, u32),
    /// The ABIs `packaging` computes (`cp311`, or `cp313t`, `cp311d` + `cp311`); for other
    /// implementations the one from `EXT_SUFFIX`.
    pub abis: Vec<String>,
    /// `packaging.tags._generic_abi()` (from `EXT_SUFFIX`), which pip gives another
    /// implementation's tags (`--implementation pp`) when no `--abi` is given.
    pub generic_abis: Vec<String>,
    /// `sysconfig.get_platform()`, normalized (`linux_x86_64`, `macosx_11_0_arm64`).
    pub platform: String,
    /// A 32-bit interpreter (an i686 or armv7l one on a 64-bit kernel).
    pub is_32bit: bool,
    /// glibc's version, when linked with it.
    pub glibc: Option<(u32, u32)>,
    /// musl's version, when linked with it.
    pub musl: Option<(u32, u32)>,
    /// `platform.mac_ver()`: `(major, minor)` on macOS.
    pub mac_version: Option<(u32, u32)>,
    /// The marker variables (`packaging.markers.default_environment()`).
    pub markers: Environment,
}

/// The interpreter a restore fetches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Compatible tags, best first.
    pub tags: Vec<String>,
    /// The Python version `requires-python` is checked against (`3.11.7`, or `3.12.0` for
    /// `--python-version 3.12`).
    pub python_full_version: String,
    /// The marker variables requirements' markers are evaluated in.
    pub markers: Environment,
}

/// Finding the target interpreter failed.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The interpreter could not be run.
    #[error("could not run `{python}` to find the target interpreter")]
    Run {
        /// The interpreter.
        python: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The interpreter failed or answered something unreadable.
    #[error("`{python}` did not describe itself: {detail}")]
    Answer {
        /// The interpreter.
        python: String,
        /// Its stderr or the parse error.
        detail: String,
    },
    /// A flag's value is not valid.
    #[error("`{flag} {value}` is not valid: {reason}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

impl TargetError {
    /// What to do about it.
    #[must_use]
    pub const fn hint(&self) -> &'static str {
        match self {
            Self::Run { .. } | Self::Answer { .. } => {
                "pass `--python PATH` for the interpreter pip installs with, or name the target with `--python-version` and `--platform`, or fetch every platform's files with `--all-platforms`"
            }
            Self::Flag { .. } => "see `lading restore --help` (pip target)",
        }
    }
}

/// The script that describes an interpreter: what `packaging.tags` and
/// `packaging.markers.default_environment()` read, computed the same way.
const DESCRIBE: &str = r#"
import glob, json, os, platform, re, subprocess, sys, sysconfig
def var(name):
    return sysconfig.get_config_var(name)
name = {"python": "py", "cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}.get(
    sys.implementation.name, sys.implementation.name)
version = sys.version_info[:2]
nodot = str(var("py_version_nodot") or "".join(map(str, version)))
if name == "cp":
    vd = "".join(map(str, version))
    threading = debug = pymalloc = ucs4 = ""
    with_debug = var("Py_DEBUG")
    has_ext = "_d.pyd" in __import__("importlib.machinery").machinery.EXTENSION_SUFFIXES
    if with_debug or (with_debug is None and (hasattr(sys, "gettotalrefcount") or has_ext)):
        debug = "d"
    if version >= (3, 13) and var("Py_GIL_DISABLED"):
        threading = "t"
    abis = []
    if version < (3, 8):
        if var("WITH_PYMALLOC") or var("WITH_PYMALLOC") is None:
            pymalloc = "m"
    elif debug:
        abis.append(f"cp{vd}{threading}")
    abis.insert(0, f"cp{vd}{threading}{debug}{pymalloc}{ucs4}")
def generic_abis():
    suffix = var("EXT_SUFFIX") or ""
    parts = suffix.split(".")
    soabi = parts[1] if len(parts) >= 3 else ""
    if soabi.startswith("cpython"):
        abi = "cp" + soabi.split("-")[1]
    elif soabi.startswith("cp"):
        abi = soabi.split("-")[0]
    elif soabi.startswith("pypy"):
        abi = "-".join(soabi.split("-")[:2])
    elif soabi.startswith("graalpy"):
        abi = "-".join(soabi.split("-")[:3])
    else:
        abi = soabi
    return [re.sub(r"[.-]", "_", abi)] if abi else []
if name != "cp":
    abis = generic_abis()
glibc = None
try:
    found = os.confstr("CS_GNU_LIBC_VERSION").split()[1]
    glibc = [int(part) for part in re.match(r"(\d+)\.(\d+)", found).groups()]
except Exception:
    pass
musl = None
for loader in glob.glob("/lib/ld-musl-*.so.1"):
    try:
        out = subprocess.run([loader], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL).stderr.decode()
        found = re.search(r"Version (\d+)\.(\d+)", out)
        if found:
            musl = [int(found.group(1)), int(found.group(2))]
            break
    except Exception:
        pass
mac = None
if platform.system() == "Darwin":
    mac = [int(part) for part in platform.mac_ver()[0].split(".")[:2]]
def full(info):
    text = "{0.major}.{0.minor}.{0.micro}".format(info)
    if info.releaselevel != "final":
        text += info.releaselevel[0] + str(info.serial)
    return text
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": full(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({
    "implementation": name, "version_nodot": nodot, "version": list(version), "abis": abis, "generic_abis": generic_abis(),
    "platform": re.sub(r"[.-]", "_", sysconfig.get_platform()), "is_32bit": sys.maxsize <= 2**32,
    "glibc": glibc, "musl": musl, "mac_version": mac, "markers": markers,
}))
"#;

/// Ask `python` to describe itself.
///
/// # Errors
/// [`TargetError`] when it cannot be run or answers something unreadable.
pub fn describe(python: &Path) -> Result<InterpreterFacts, TargetError> {
    let shown = python.display().to_string();
    let output = std::process::Command::new(python)
        .args(["-I", "-c", DESCRIBE])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| TargetError::Run {
            python: shown.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(TargetError::Answer {
            python: shown,
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(|error| TargetError::Answer {
        python: shown,
        detail: error.to_string(),
    })
}

/// The target of `args`: the interpreter's own tags and markers, with the flags' parts
/// replaced. `None` with `--all-platforms`. Without `python3` on `PATH`, `--python-version`
/// and `--platform` together name a CPython target alone.
///
/// # Errors
/// [`TargetError`] for an interpreter that cannot be asked (and flags that do not name the
/// target without it), or a bad flag.
pub fn target(args: &TargetArgs) -> Result<Option<Target>, TargetError> {
    if args.all_platforms {
        return Ok(None);
    }
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let facts = match describe(&python) {
        Ok(facts) => facts,
        Err(TargetError::Run { .. })
            if args.python.is_none()
                && args.python_version.is_some()
                && !args.platform.is_empty() =>
        {
            tracing::debug!("no `python3` to ask: the target is the flags' alone");
            flags_only_facts()
        }
        Err(error) => return Err(error),
    };
    Ok(Some(target_from(&facts, args)?))
}

/// An interpreter known only through `--python-version` and `--platform` (which replace
/// its version, ABI, platforms and their markers): CPython, whose other marker variables
/// are those of CPython on the platform the flags name.
fn flags_only_facts() -> InterpreterFacts {
    InterpreterFacts {
        implementation: "cp".to_owned(),
        version_nodot: "3".to_owned(),
        version: (3, 0),
        abis: Vec::new(),
        generic_abis: Vec::new(),
        platform: String::new(),
        is_32bit: false,
        glibc: None,
        musl: None,
        mac_version: None,
        markers: [
            ("implementation_name", "cpython"),
            ("platform_python_implementation", "CPython"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect(),
    }
}

/// [`target`] from an interpreter's description.
///
/// # Errors
/// [`TargetError::Flag`] for a `--python-version` that is not `X`, `X.Y` or `XY`.
pub fn target_from(facts: &InterpreterFacts, args: &TargetArgs) -> Result<Target, TargetError> {
    let mut markers = facts.markers.clone();
    let mut python_full_version = markers
        .get("python_full_version")
        .cloned()
        .unwrap_or_else(|| format!("{}.{}.0", facts.version.0, facts.version.1));
    // pip's `--python-version`: "3.12" or "312"; the version of the tags is its digits.
    let (version, nodot) = match &args.python_version {
        None => (Some(facts.version), facts.version_nodot.clone()),
        Some(text) => {
            let invalid = |reason| TargetError::Flag {
                flag: "--python-version",
                value: text.clone(),
                reason,
            };
            let parts: Vec<&str> = text.split('.').collect();
            let digits: String = match parts.as_slice() {
                [major] => (*major).to_owned(),
                [major, minor] | [major, minor, _] => format!("{major}{minor}"),
                _ => return Err(invalid("use `3.12` or `312`")),
            };
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(invalid("use `3.12` or `312`"));
            }
            let major: u32 = digits[..1].parse().map_err(|_| invalid("not a number"))?;
            let minor: Option<u32> = (digits.len() > 1)
                .then(|| digits[1..].parse())
                .transpose()
                .map_err(|_| invalid("not a number"))?;
            let full = match (parts.as_slice(), minor) {
                ([_, _, micro], Some(minor)) => format!("{major}.{minor}.{micro}"),
                (_, Some(minor)) => format!("{major}.{minor}.0"),
                (_, None) => format!("{major}.0.0"),
            };
            python_full_version.clone_from(&full);
            markers.insert("python_full_version".to_owned(), full.clone());
            markers.insert(
                "python_version".to_owned(),
                minor.map_or_else(|| major.to_string(), |minor| format!("{major}.{minor}")),
            );
            (minor.map(|minor| (major, minor)), digits)
        }
    };
    let implementation = args
        .implementation
        .clone()
        .unwrap_or_else(|| facts.implementation.clone());
    let abis: Option<Vec<String>> = if !args.abi.is_empty() {
        Some(args.abi.clone())
    } else if implementation != "cp" {
        Some(facts.generic_abis.clone())
    } else if args.python_version.is_some() {
        // pip computes the ABIs again for the given version (with the running
        // interpreter's debug and threading flags, which a target rarely shares).
        None
    } else {
        Some(facts.abis.clone())
    };
    let platforms = if args.platform.is_empty() {
        interpreter_platforms(facts)
    } else {
        for platform in &args.platform {
            apply_platform_markers(platform, &mut markers);
        }
        expand_platforms(&args.platform)
    };
    let interpreter = format!("{implementation}{nodot}");
    let mut tags = Vec::new();
    if implementation == "cp" {
        let abis = abis.unwrap_or_else(|| {
            // Before 3.8 CPython's ABI carried `m` for pymalloc, which builds had on.
            version.map_or_else(Vec::new, |(major, minor)| {
                let pymalloc = if (major, minor) < (3, 8) { "m" } else { "" };
                vec![format!("cp{major}{minor}{pymalloc}")]
            })
        });
        tags.extend(cpython_tags(version, &nodot, abis, &platforms));
    } else {
        let abis = abis.unwrap_or_default();
        tags.extend(generic_tags(&interpreter, abis, &platforms));
    }
    tags.extend(compatible_tags(
        version,
        major_of(version, &nodot),
        Some(&interpreter),
        &platforms,
    ));
    Ok(Target {
        tags,
        python_full_version,
        markers,
    })
}

fn major_of(version: Option<(u32, u32)>, nodot: &str) -> u32 {
    version.map_or_else(
        || {
            nodot
                .get(..1)
                .and_then(|major| major.parse().ok())
                .unwrap_or(3)
        },
        |(major, _)| major,
    )
}

/// A `--platform` target's marker variables, so `sys_platform == 'win32'` holds for
/// `--platform win_amd64` (pip itself evaluates markers on the machine it runs on).
fn apply_platform_markers(platform: &str, markers: &mut Environment) {
    let (sys_platform, system, os_name) = if platform.starts_with("win") {
        ("win32", "Windows", "nt")
    } else if platform.starts_with("macosx") {
        ("darwin", "Darwin", "posix")
    } else if platform.starts_with("linux")
        || platform.starts_with("manylinux")
        || platform.starts_with("musllinux")
    {
        ("linux", "Linux", "posix")
    } else {
        return;
    };
    let arch = match platform {
        "win_amd64" => Some("AMD64"),
        "win32" => Some("x86"),
        "win_arm64" => Some("ARM64"),
        _ if platform.starts_with("macosx_")
            || platform.starts_with("manylinux_")
            || platform.starts_with("musllinux_") =>
        {
            platform.splitn(4, '_').nth(3)
        }
        _ => platform.split_once('_').map(|(_, arch)| arch),
    };
    let machine = arch.filter(|arch| !matches!(*arch, "universal2" | "universal" | "intel"));
    if let Some(machine) = machine {
        markers.insert("platform_machine".to_owned(), machine.to_owned());
    }
    for (key, value) in [
        ("sys_platform", sys_platform),
        ("platform_system", system),
        ("os_name", os_name),
    ] {
        markers.insert(key.to_owned(), value.to_owned());
    }
}

/// `packaging.tags.cpython_tags`.
fn cpython_tags(
    version: Option<(u32, u32)>,
    nodot: &str,
    abis: Vec<String>,
    platforms: &[String],
) -> Vec<String> {
    let interpreter = format!("cp{nodot}");
    let threading = abis.first().is_some_and(|abi| {
        abi.strip_prefix("cp")
            .map(|rest| rest.trim_start_matches(|c: char| c.is_ascii_digit()))
            .is_some_and(|flags| flags.contains('t'))
    });
    let explicit: &[&str] = if threading {
        &["abi3", "abi3t", "none"]
    } else {
        &["abi3", "none"]
    };
    let abis: Vec<String> = abis
        .into_iter()
        .filter(|abi| !explicit.contains(&abi.as_str()))
        .collect();
    let mut tags = Vec::new();
    for abi in &abis {
        for platform in platforms {
            tags.push(format!("{interpreter}-{abi}-{platform}"));
        }
    }
    let stable = version.filter(|&(major, minor)| (major, minor) >= (3, 2));
    let stable_abi = if threading { "abi3t" } else { "abi3" };
    if stable.is_some() {
        for platform in platforms {
            tags.push(format!("{interpreter}-{stable_abi}-{platform}"));
        }
    }
    for platform in platforms {
        tags.push(format!("{interpreter}-none-{platform}"));
    }
    if let Some((major, minor)) = stable {
        for older in (2..minor).rev() {
            for platform in platforms {
                tags.push(format!("cp{major}{older}-{stable_abi}-{platform}"));
            }
        }
    }
    tags
}

/// `packaging.tags.generic_tags` (PyPy and other implementations).
fn generic_tags(interpreter: &str, mut abis: Vec<String>, platforms: &[String]) -> Vec<String> {
    if !abis.iter().any(|abi| abi == "none") {
        abis.push("none".to_owned());
    }
    let mut tags = Vec::new();
    for abi in &abis {
        for platform in platforms {
            tags.push(format!("{interpreter}-{abi}-{platform}"));
        }
    }
    tags
}

/// `pyXY`, `pyX`, then older `pyXW` down to `pyX0` (`packaging.tags._py_interpreter_range`).
fn python_range(version: Option<(u32, u32)>, major: u32) -> Vec<String> {
    let mut range = Vec::new();
    if let Some((major, minor)) = version {
        range.push(format!("py{major}{minor}"));
    }
    range.push(format!("py{major}"));
    if let Some((major, minor)) = version {
        for older in (0..minor).rev() {
            range.push(format!("py{major}{older}"));
        }
    }
    range
}

/// `packaging.tags.compatible_tags`.
fn compatible_tags(
    version: Option<(u32, u32)>,
    major: u32,
    interpreter: Option<&str>,
    platforms: &[String],
) -> Vec<String> {
    let range = python_range(version, major);
    let mut tags = Vec::new();
    for python in &range {
        for platform in platforms {
            tags.push(format!("{python}-none-{platform}"));
        }
    }
    if let Some(interpreter) = interpreter {
        tags.push(format!("{interpreter}-none-any"));
    }
    for python in &range {
        tags.push(format!("{python}-none-any"));
    }
    tags
}

/// The platforms of an interpreter (`packaging.tags.platform_tags()`).
#[must_use]
pub fn interpreter_platforms(facts: &InterpreterFacts) -> Vec<String> {
    let platform = facts.platform.as_str();
    if let Some(arch) = platform.strip_prefix("linux_") {
        let arch = match (facts.is_32bit, arch) {
            (true, "x86_64") => "i686",
            (true, "aarch64") => "armv8l",
            _ => arch,
        };
        return linux_platforms(arch, facts.glibc, facts.musl);
    }
    if platform.starts_with("macosx_")
        && let (Some(version), Some(arch)) = (facts.mac_version, platform.rsplit('_').next())
    {
        let arch = if facts.is_32bit {
            if arch.starts_with("ppc") {
                "ppc"
            } else {
                "i386"
            }
        } else {
            arch
        };
        return mac_platforms(version, arch);
    }
    vec![platform.to_owned()]
}

/// The architectures manylinux wheels exist for (`packaging._manylinux._ALLOWED_ARCHS`, with
/// the i686 and armv7l interpreters it checks by their ELF header).
const MANYLINUX_ARCHS: &[&str] = &[
    "x86_64",
    "aarch64",
    "ppc64",
    "ppc64le",
    "s390x",
    "loongarch64",
    "riscv64",
    "i686",
    "armv7l",
];

/// `packaging.tags._linux_platforms` for `arch`: `linux_<arch>`, the manylinux tags glibc
/// `glibc` runs, the musllinux tags musl `musl` runs.
#[must_use]
pub fn linux_platforms(
    arch: &str,
    glibc: Option<(u32, u32)>,
    musl: Option<(u32, u32)>,
) -> Vec<String> {
    let archs: Vec<&str> = if arch == "armv8l" {
        vec!["armv8l", "armv7l"]
    } else {
        vec![arch]
    };
    let mut platforms: Vec<String> = archs.iter().map(|arch| format!("linux_{arch}")).collect();
    if let Some((major, minor)) = glibc
        && archs.iter().any(|arch| MANYLINUX_ARCHS.contains(arch))
    {
        let oldest = if archs.iter().any(|arch| matches!(*arch, "x86_64" | "i686")) {
            (2, 4)
        } else {
            (2, 16)
        };
        // glibc keeps compatibility across major versions; packaging assumes 50 minors.
        let mut maxima = vec![(major, minor)];
        for older in (2..major).rev() {
            maxima.push((older, 50));
        }
        for arch in &archs {
            for &(major, max_minor) in &maxima {
                let floor = if major == oldest.0 { oldest.1 + 1 } else { 0 };
                for minor in (floor..=max_minor).rev() {
                    platforms.push(format!("manylinux_{major}_{minor}_{arch}"));
                    let legacy = match (major, minor) {
                        (2, 17) => Some("manylinux2014"),
                        (2, 12) => Some("manylinux2010"),
                        (2, 5) => Some("manylinux1"),
                        _ => None,
                    };
                    if let Some(legacy) = legacy {
                        platforms.push(format!("{legacy}_{arch}"));
                    }
                }
            }
        }
    }
    if let Some((major, minor)) = musl {
        for arch in &archs {
            for minor in (0..=minor).rev() {
                platforms.push(format!("musllinux_{major}_{minor}_{arch}"));
            }
        }
    }
    platforms
}

/// The binary formats a macOS version runs for `arch` (`packaging.tags._mac_binary_formats`).
fn mac_binary_formats(version: (u32, u32), arch: &str) -> Vec<String> {
    let mut formats = vec![arch];
    match arch {
        "x86_64" | "i386" if version < (10, 4) => return Vec::new(),
        "x86_64" => formats.extend(["intel", "fat64", "fat3"]),
        "i386" => formats.extend(["intel", "fat3", "fat"]),
        "ppc64" if !((10, 4)..=(10, 5)).contains(&version) => return Vec::new(),
        "ppc64" => formats.push("fat64"),
        "ppc" if version > (10, 6) => return Vec::new(),
        "ppc" => formats.extend(["fat3", "fat"]),
        _ => {}
    }
    if matches!(arch, "arm64" | "x86_64") {
        formats.push("universal2");
    }
    if matches!(arch, "x86_64" | "i386" | "ppc64" | "ppc" | "intel") {
        formats.push("universal");
    }
    formats.into_iter().map(str::to_owned).collect()
}

/// `packaging.tags.mac_platforms(version, arch)`.
#[must_use]
pub fn mac_platforms(version: (u32, u32), arch: &str) -> Vec<String> {
    let mut platforms = Vec::new();
    if ((10, 0)..(11, 0)).contains(&version) {
        for minor in (0..=version.1).rev() {
            for format in mac_binary_formats((10, minor), arch) {
                platforms.push(format!("macosx_10_{minor}_{format}"));
            }
        }
    }
    if version >= (11, 0) {
        for major in (11..=version.0).rev() {
            for format in mac_binary_formats((major, 0), arch) {
                platforms.push(format!("macosx_{major}_0_{format}"));
            }
        }
        for minor in (4..=16).rev() {
            if arch == "x86_64" {
                for format in mac_binary_formats((10, minor), arch) {
                    platforms.push(format!("macosx_10_{minor}_{format}"));
                }
            } else {
                platforms.push(format!("macosx_10_{minor}_universal2"));
            }
        }
    }
    platforms
}

/// pip's expansion of `--platform` values (`compatibility_tags._get_custom_platforms`),
/// first seen first, without repeats.
#[must_use]
pub fn expand_platforms(platforms: &[String]) -> Vec<String> {
    let mut result: Vec<String> = Vec::new();
    for platform in platforms {
        let (prefix, suffix) = platform.split_once('_').unwrap_or((platform, ""));
        let expanded = if platform.starts_with("macosx") {
            mac_custom(platform)
        } else if prefix == "manylinux2014" && matches!(suffix, "i686" | "x86_64") {
            vec![
                platform.clone(),
                format!("manylinux2010_{suffix}"),
                format!("manylinux1_{suffix}"),
            ]
        } else if prefix == "manylinux2010" {
            vec![platform.clone(), format!("manylinux1_{suffix}")]
        } else {
            vec![platform.clone()]
        };
        for platform in expanded {
            if !result.contains(&platform) {
                result.push(platform);
            }
        }
    }
    result
}

/// `macosx_11_0_arm64` → every macOS platform tag that version runs.
fn mac_custom(platform: &str) -> Vec<String> {
    let parts: Vec<&str> = platform.splitn(4, '_').collect();
    if let [name, major, minor, arch] = parts.as_slice()
        && let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>())
    {
        return mac_platforms((major, minor), arch)
            .into_iter()
            .map(|tag| format!("{name}_{}", &tag["macosx_".len()..]))
            .collect();
    }
    vec![platform.to_owned()]
}

/// The rank of each compatible tag (0 is best), for choosing among a requirement's files.
#[derive(Debug, Clone)]
pub struct TagRanks(HashMap<String, usize>);

impl TagRanks {
    /// Ranks of `tags`, best first.
    #[must_use]
    pub fn new(tags: &[String]) -> Self {
        let mut ranks = HashMap::with_capacity(tags.len());
        for (rank, tag) in tags.iter().enumerate() {
            ranks.entry(tag.clone()).or_insert(rank);
        }
        Self(ranks)
    }

    /// The best rank among a wheel's tags (its name's `py2.py3-none-any` expand to each
    /// combination), `None` when none is compatible.
    #[must_use]
    pub fn best(&self, python: &str, abi: &str, platform: &str) -> Option<usize> {
        let mut best = None;
        for python in python.split('.') {
            for abi in abi.split('.') {
                for platform in platform.split('.') {
                    if let Some(&rank) = self.0.get(&format!("{python}-{abi}-{platform}")) {
                        best = Some(best.map_or(rank, |current: usize| current.min(rank)));
                    }
                }
            }
        }
        best
    }

    /// How many tags there are (an sdist ranks after all of them).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no tag is compatible.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `requires_python` admits `python_full_version` (pip ignores a value it cannot
/// parse, and so does this).
#[must_use]
pub fn requires_python_admits(requires_python: &str, python_full_version: &str) -> bool {
    match (
        super::pep440::Specifiers::parse(requires_python),
        Version::parse(python_full_version),
    ) {
        (Some(specifiers), Some(version)) => specifiers.contains(&version),
        _ => true,
    }
}

/// CPython 3.11 on x86-64 glibc 2.36 (Debian 12), for tests.
#[cfg(test)]
pub(crate) fn linux_cp311_facts() -> InterpreterFacts {
    InterpreterFacts {
        implementation: "cp".into(),
        version_nodot: "311".into(),
        version: (3, 11),
        abis: vec!["cp311".into()],
        generic_abis: vec!["cp311".into()],
        platform: "linux_x86_64".into(),
        is_32bit: false,
        glibc: Some((2, 36)),
        musl: None,
        mac_version: None,
        markers: Environment::from([
            ("python_full_version".to_owned(), "3.11.7".to_owned()),
            ("python_version".to_owned(), "3.11".to_owned()),
            ("sys_platform".to_owned(), "linux".to_owned()),
            (
                "platform_python_implementation".to_owned(),
                "CPython".to_owned(),
            ),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux_cp311() -> InterpreterFacts {
        linux_cp311_facts()
    }

    #[test]
    fn cpython_on_glibc_orders_like_pip() {
        let target = target_from(&linux_cp311(), &TargetArgs::default()).unwrap();
        let tags = &target.tags;
        // Counted from `pip debug --verbose` (pip 26.3) on Debian 12's glibc 2.36.
        assert_eq!(tags.len(), 914);
        assert_eq!(tags[0], "cp311-cp311-linux_x86_64");
        assert_eq!(tags[1], "cp311-cp311-manylinux_2_36_x86_64");
        let position = |tag: &str| tags.iter().position(|found| found == tag).unwrap();
        assert_eq!(
            position("cp311-cp311-manylinux2014_x86_64"),
            position("cp311-cp311-manylinux_2_17_x86_64") + 1
        );
        assert!(position("cp311-cp311-manylinux1_x86_64") < position("cp311-abi3-linux_x86_64"));
        assert!(position("cp311-abi3-manylinux1_x86_64") < position("cp311-none-linux_x86_64"));
        assert!(position("cp311-none-manylinux1_x86_64") < position("cp310-abi3-linux_x86_64"));
        assert!(position("cp32-abi3-manylinux1_x86_64") < position("py311-none-linux_x86_64"));
        assert!(position("py311-none-manylinux1_x86_64") < position("py3-none-linux_x86_64"));
        assert!(position("py3-none-manylinux1_x86_64") < position("py310-none-linux_x86_64"));
        assert_eq!(
            &tags[tags.len() - 14..tags.len() - 11],
            ["cp311-none-any", "py311-none-any", "py3-none-any"]
        );
        assert_eq!(tags.last().unwrap(), "py30-none-any");
        assert_eq!(target.python_full_version, "3.11.7");
    }

    #[test]
    fn flags_replace_parts_like_pip_download() {
        let args = TargetArgs {
            python_version: Some("3.12".into()),
            platform: vec!["manylinux2014_aarch64".into()],
            ..TargetArgs::default()
        };
        let target = target_from(&linux_cp311(), &args).unwrap();
        assert_eq!(
            target.tags[..4],
            [
                "cp312-cp312-manylinux2014_aarch64",
                "cp312-abi3-manylinux2014_aarch64",
                "cp312-none-manylinux2014_aarch64",
                "cp311-abi3-manylinux2014_aarch64"
            ]
        );
        assert_eq!(target.python_full_version, "3.12.0");
        assert_eq!(target.markers["python_version"], "3.12");
        assert_eq!(target.markers["platform_machine"], "aarch64");
        assert_eq!(target.markers["sys_platform"], "linux");
        let windows = TargetArgs {
            platform: vec!["win_amd64".into()],
            abi: vec!["cp311".into()],
            ..TargetArgs::default()
        };
        let target = target_from(&linux_cp311(), &windows).unwrap();
        assert_eq!(target.tags[0], "cp311-cp311-win_amd64");
        assert_eq!(target.markers["sys_platform"], "win32");
        assert_eq!(target.markers["platform_machine"], "AMD64");
        let bad = TargetArgs {
            python_version: Some("three".into()),
            ..TargetArgs::default()
        };
        assert!(target_from(&linux_cp311(), &bad).is_err());
    }

    #[test]
    fn flags_alone_name_a_cpython_target() {
        let args = TargetArgs {
            python_version: Some("3.12".into()),
            platform: vec!["manylinux2014_aarch64".into()],
            ..TargetArgs::default()
        };
        let alone = target_from(&flags_only_facts(), &args).unwrap();
        assert_eq!(alone.tags, target_from(&linux_cp311(), &args).unwrap().tags);
        assert_eq!(alone.markers["python_full_version"], "3.12.0");
        assert_eq!(alone.markers["platform_python_implementation"], "CPython");
        assert_eq!(alone.markers["sys_platform"], "linux");
    }

    #[test]
    fn platform_expansions() {
        assert_eq!(
            expand_platforms(&["manylinux2014_x86_64".into(), "manylinux1_x86_64".into()]),
            [
                "manylinux2014_x86_64",
                "manylinux2010_x86_64",
                "manylinux1_x86_64"
            ]
        );
        let mac = expand_platforms(&["macosx_11_0_arm64".into()]);
        assert_eq!(
            mac[..3],
            [
                "macosx_11_0_arm64",
                "macosx_11_0_universal2",
                "macosx_10_16_universal2"
            ]
        );
        assert_eq!(mac.last().unwrap(), "macosx_10_4_universal2");
        let intel = mac_platforms((10, 9), "x86_64");
        assert_eq!(
            intel[..6],
            [
                "macosx_10_9_x86_64",
                "macosx_10_9_intel",
                "macosx_10_9_fat64",
                "macosx_10_9_fat3",
                "macosx_10_9_universal2",
                "macosx_10_9_universal"
            ]
        );
        let aarch64 = linux_platforms("aarch64", Some((2, 17)), None);
        assert_eq!(
            aarch64,
            [
                "linux_aarch64",
                "manylinux_2_17_aarch64",
                "manylinux2014_aarch64"
            ]
        );
        let musl = linux_platforms("x86_64", None, Some((1, 2)));
        assert_eq!(
            musl,
            [
                "linux_x86_64",
                "musllinux_1_2_x86_64",
                "musllinux_1_1_x86_64",
                "musllinux_1_0_x86_64"
            ]
        );
    }

    #[test]
    fn wheel_tags_rank_by_their_best_member() {
        let target = target_from(&linux_cp311(), &TargetArgs::default()).unwrap();
        let ranks = TagRanks::new(&target.tags);
        let compound = ranks
            .best(
                "cp311",
                "cp311",
                "manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_28_x86_64",
            )
            .unwrap();
        assert_eq!(
            compound,
            ranks
                .best("cp311", "cp311", "manylinux_2_28_x86_64")
                .unwrap()
        );
        assert!(ranks.best("py2.py3", "none", "any").is_some());
        assert!(
            ranks
                .best("cp312", "cp312", "manylinux_2_17_x86_64")
                .is_none()
        );
        assert!(ranks.best("cp311", "cp311", "win_amd64").is_none());
        assert!(
            ranks
                .best("cp311", "cp311", "manylinux_2_17_x86_64")
                .unwrap()
                < ranks.best("py3", "none", "any").unwrap()
        );
        assert!(requires_python_admits(">=3.9", "3.11.7"));
        assert!(!requires_python_admits(">=3.12", "3.11.7"));
        assert!(requires_python_admits("garbage", "3.11.7"));
    }
}
