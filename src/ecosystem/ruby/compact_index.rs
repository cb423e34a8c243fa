//! The compact index (what bundler and RubyGems >= 3.5.19 read, and what rubygems.org
//! serves): `versions`, `info/<gem>` and `names`.
//!
//! ```text
//! versions:     created_at: 2026-12-07T20:00:00Z      info/<gem>:  ---
//!               ---                                                1.0.0 |checksum:<sha256>
//!               <gem> 1.0.0,1.1.0-java <md5 of info>               1.1.0 dep:>= 1&< 3|checksum:<sha256>,ruby:>= 2.7
//! names:        ---
//!               <gem>
//! ```
//!
//! An info line is `version[-platform] deps|requirements`: `deps` the runtime dependencies
//! (`name:req&req`, comma separated), `requirements` the file's `checksum:` (sha256 of the
//! `.gem`) and its `ruby:` / `rubygems:` requirements. A version prefixed `-` in `versions`
//! was yanked.

use std::fmt::Write as _;

use super::gem::GemSpec;

/// The info line of one gem file (`sha256`: of the `.gem`).
#[must_use]
pub fn info_line(spec: &GemSpec, sha256: &str) -> String {
    let mut line = spec.version.clone();
    if spec.platform != "ruby" {
        line.push('-');
        line.push_str(&spec.platform);
    }
    line.push(' ');
    let dependencies: Vec<String> = spec
        .runtime_dependencies()
        .map(|dependency| {
            let requirements = if dependency.requirements.is_empty() {
                ">= 0".to_owned()
            } else {
                dependency.requirements.join("&")
            };
            format!("{}:{requirements}", dependency.name)
        })
        .collect();
    line.push_str(&dependencies.join(","));
    let _ = write!(line, "|checksum:{sha256}");
    for (name, requirements) in [
        ("ruby", &spec.required_ruby_version),
        ("rubygems", &spec.required_rubygems_version),
    ] {
        let meaningful: Vec<&String> = requirements
            .iter()
            .filter(|requirement| requirement.as_str() != ">= 0")
            .collect();
        if !meaningful.is_empty() {
            let joined: Vec<&str> = meaningful.iter().map(|text| text.as_str()).collect();
            let _ = write!(line, ",{name}:{}", joined.join("&"));
        }
    }
    line
}

/// An info file from its lines.
#[must_use]
pub fn info_file<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut file = String::from("---\n");
    for line in lines {
        file.push_str(line);
        file.push('\n');
    }
    file
}

/// One line of an info file, as read from an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoLine {
    /// Version.
    pub version: String,
    /// `ruby` or the platform.
    pub platform: String,
    /// The `checksum:` (sha256 of the `.gem`), when the line has one.
    pub sha256: Option<String>,
    /// The line as the upstream wrote it.
    pub line: String,
}

impl InfoLine {
    /// The file name of the gem this line describes.
    #[must_use]
    pub fn file_name(&self, gem: &str) -> String {
        if self.platform == "ruby" {
            format!("{gem}-{}.gem", self.version)
        } else {
            format!("{gem}-{}-{}.gem", self.version, self.platform)
        }
    }
}

/// Parse an info file (lines after `---`; blank lines skipped).
///
/// # Errors
/// A line whose version or platform is not valid.
pub fn parse_info(text: &str) -> Result<Vec<InfoLine>, String> {
    let body = text.split_once("---\n").map_or(text, |(_, after)| after);
    let mut lines = Vec::new();
    for line in body
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
    {
        let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (version, platform) = head.split_once('-').unwrap_or((head, "ruby"));
        if !super::gem::is_valid_version(version) || !super::gem::is_valid_platform(platform) {
            return Err(format!("bad line `{line}`"));
        }
        let sha256 = rest.split_once('|').and_then(|(_, requirements)| {
            requirements.split(',').find_map(|requirement| {
                requirement
                    .strip_prefix("checksum:")
                    .map(|sum| sum.trim().to_ascii_lowercase())
            })
        });
        lines.push(InfoLine {
            version: version.to_owned(),
            platform: platform.to_owned(),
            sha256,
            line: line.to_owned(),
        });
    }
    Ok(lines)
}

/// One gem's line in a `versions` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsLine {
    /// Gem name.
    pub name: String,
    /// `version[-platform]` entries, yanked ones (`-` prefixed) removed.
    pub versions: Vec<String>,
    /// The md5 of the gem's info file.
    pub info_md5: String,
}

/// Parse a `versions` file, folding later lines of a gem into its first (rubygems.org
/// appends a line per change) and dropping yanked versions.
#[must_use]
pub fn parse_versions(text: &str) -> Vec<VersionsLine> {
    let body = text.split_once("---\n").map_or(text, |(_, after)| after);
    let mut gems: Vec<VersionsLine> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for line in body.lines() {
        let mut fields = line.split(' ');
        let (Some(name), Some(versions)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !super::gem::is_valid_name(name) {
            continue;
        }
        let md5 = fields.next().unwrap_or_default().to_owned();
        let at = *index.entry(name.to_owned()).or_insert_with(|| {
            gems.push(VersionsLine {
                name: name.to_owned(),
                versions: Vec::new(),
                info_md5: String::new(),
            });
            gems.len() - 1
        });
        let entry = &mut gems[at];
        entry.info_md5 = md5;
        for version in versions.split(',').filter(|version| !version.is_empty()) {
            if let Some(yanked) = version.strip_prefix('-') {
                entry.versions.retain(|kept| kept != yanked);
            } else if !entry.versions.iter().any(|kept| kept == version) {
                entry.versions.push(version.to_owned());
            }
        }
    }
    gems
}

/// Render a `versions` file.
#[must_use]
pub fn versions_file(created_at: &str, gems: &[VersionsLine]) -> String {
    let mut file = format!("created_at: {created_at}\n---\n");
    for gem in gems.iter().filter(|gem| !gem.versions.is_empty()) {
        let _ = writeln!(
            file,
            "{} {} {}",
            gem.name,
            gem.versions.join(","),
            gem.info_md5
        );
    }
    file
}

/// Parse a `names` file.
#[must_use]
pub fn parse_names(text: &str) -> Vec<String> {
    let body = text.split_once("---\n").map_or(text, |(_, after)| after);
    body.lines()
        .map(str::trim)
        .filter(|name| super::gem::is_valid_name(name))
        .map(ToOwned::to_owned)
        .collect()
}

/// The md5 of a document, hex (what `versions` lists and bundler's `ETag` check expects).
#[must_use]
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::ruby::gem::Dependency;

    fn spec() -> GemSpec {
        GemSpec {
            name: "hello".to_owned(),
            version: "1.0.0".to_owned(),
            platform: "ruby".to_owned(),
            dependencies: vec![
                Dependency {
                    name: "dep".to_owned(),
                    requirements: vec![">= 1.0".to_owned(), "< 3".to_owned()],
                    kind: "runtime".to_owned(),
                },
                Dependency {
                    name: "rake".to_owned(),
                    requirements: vec!["~> 13".to_owned()],
                    kind: "development".to_owned(),
                },
            ],
            required_ruby_version: vec![">= 2.5".to_owned()],
            required_rubygems_version: vec![">= 0".to_owned()],
            summary: String::new(),
            authors: Vec::new(),
            email: Vec::new(),
            homepage: None,
            description: None,
            licenses: Vec::new(),
            metadata: std::collections::BTreeMap::new(),
            rubygems_version: String::new(),
            specification_version: 4,
            date: String::new(),
        }
    }

    #[test]
    fn info_lines_list_runtime_dependencies_checksum_and_ruby_requirement() {
        let line = info_line(&spec(), "ab");
        assert_eq!(line, "1.0.0 dep:>= 1.0&< 3|checksum:ab,ruby:>= 2.5");
        let parsed = parse_info(&info_file([line.as_str()])).unwrap();
        assert_eq!(parsed[0].sha256.as_deref(), Some("ab"));
        assert_eq!(parsed[0].file_name("hello"), "hello-1.0.0.gem");
        let java = parse_info("---\n2.0-java |checksum:CD\n").unwrap();
        assert_eq!(java[0].file_name("hello"), "hello-2.0-java.gem");
        assert_eq!(java[0].sha256.as_deref(), Some("cd"));
    }

    #[test]
    fn versions_fold_appended_lines_and_drop_yanked() {
        let text = "created_at: x\n---\na 1.0,1.1 m1\nb 2.0 m2\na 1.2,-1.0 m3\n";
        let parsed = parse_versions(text);
        assert_eq!(parsed[0].versions, vec!["1.1", "1.2"]);
        assert_eq!(parsed[0].info_md5, "m3");
        assert_eq!(
            versions_file("x", &parsed),
            "created_at: x\n---\na 1.1,1.2 m3\nb 2.0 m2\n"
        );
    }
}
