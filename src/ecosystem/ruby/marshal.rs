//! `quick/Marshal.4.8/<name>-<version>[-platform].gemspec.rz`: a gemspec as Ruby's
//! `Marshal.dump` writes it (format 4.8), zlib-deflated. `gem install` (RubyGems 3.3) fetches
//! it for every gem it resolves through the compact index.
//!
//! `Gem::Specification` dumps itself with `_dump` (a `u` record holding a nested Marshal
//! stream of a 19-field array); `Gem::Version` and `Gem::Requirement` with `marshal_dump`
//! (`U` records); `Gem::Dependency` as a plain object (`o`). Only what those need is
//! written: nil, true, false, small integers, UTF-8 strings, symbols (repeats as links),
//! arrays, hashes.

use std::io::Write as _;

use super::gem::GemSpec;

/// A Marshal 4.8 stream being written.
#[derive(Debug, Default)]
struct Writer {
    out: Vec<u8>,
    symbols: Vec<String>,
}

impl Writer {
    fn new() -> Self {
        Self {
            out: vec![4, 8],
            symbols: Vec::new(),
        }
    }

    /// Ruby's `w_long`.
    fn long(&mut self, value: i64) {
        match value {
            0 => self.out.push(0),
            1..=122 => self.out.push(u8::try_from(value + 5).unwrap_or(0)),
            -123..=-1 => self.out.push((value - 5).to_le_bytes()[0]),
            _ => {
                let bytes = value.to_le_bytes();
                let mut count = 8;
                if value > 0 {
                    while count > 1 && bytes[count - 1] == 0 {
                        count -= 1;
                    }
                    self.out.push(u8::try_from(count).unwrap_or(0));
                } else {
                    while count > 1 && bytes[count - 1] == 0xff {
                        count -= 1;
                    }
                    self.out
                        .push((-i8::try_from(count).unwrap_or(0)).to_le_bytes()[0]);
                }
                self.out.extend_from_slice(&bytes[..count]);
            }
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.long(i64::try_from(bytes.len()).unwrap_or(i64::MAX));
        self.out.extend_from_slice(bytes);
    }

    fn symbol(&mut self, name: &str) {
        if let Some(index) = self.symbols.iter().position(|known| known == name) {
            self.out.push(b';');
            self.long(i64::try_from(index).unwrap_or(0));
        } else {
            self.out.push(b':');
            self.bytes(name.as_bytes());
            self.symbols.push(name.to_owned());
        }
    }

    fn nil(&mut self) {
        self.out.push(b'0');
    }

    fn boolean(&mut self, value: bool) {
        self.out.push(if value { b'T' } else { b'F' });
    }

    fn integer(&mut self, value: i64) {
        self.out.push(b'i');
        self.long(value);
    }

    /// A UTF-8 string (`I"...` with the `E: true` encoding ivar).
    fn string(&mut self, text: &str) {
        self.out.extend_from_slice(b"I\"");
        self.bytes(text.as_bytes());
        self.long(1);
        self.symbol("E");
        self.boolean(true);
    }

    fn optional_string(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.string(text),
            None => self.nil(),
        }
    }

    fn array_header(&mut self, length: usize) {
        self.out.push(b'[');
        self.long(i64::try_from(length).unwrap_or(0));
    }

    fn strings(&mut self, items: &[String]) {
        self.array_header(items.len());
        for item in items {
            self.string(item);
        }
    }

    /// `Gem::Version` (`marshal_dump` → `[version]`).
    fn version(&mut self, version: &str) {
        self.out.push(b'U');
        self.symbol("Gem::Version");
        self.array_header(1);
        self.string(version);
    }

    /// `Gem::Requirement` (`marshal_dump` → `[[[op, Gem::Version], ...]]`).
    fn requirement(&mut self, requirements: &[String]) {
        let parsed: Vec<(&str, &str)> = requirements
            .iter()
            .filter_map(|requirement| requirement.trim().split_once(' '))
            .map(|(operator, version)| (operator, version.trim()))
            .collect();
        let parsed = if parsed.is_empty() {
            vec![(">=", "0")]
        } else {
            parsed
        };
        self.out.push(b'U');
        self.symbol("Gem::Requirement");
        self.array_header(1);
        self.array_header(parsed.len());
        for (operator, version) in parsed {
            self.array_header(2);
            self.string(operator);
            self.version(version);
        }
    }
}

/// The Marshal dump of `spec` as a `Gem::Specification` (what `Marshal.load` turns back into
/// one), not yet deflated.
#[must_use]
pub fn gemspec_marshal(spec: &GemSpec, today: &str) -> Vec<u8> {
    let mut inner = Writer::new();
    inner.array_header(19);
    inner.string(if spec.rubygems_version.is_empty() {
        "3.3.15"
    } else {
        &spec.rubygems_version
    });
    inner.integer(spec.specification_version.clamp(1, 4));
    inner.string(&spec.name);
    inner.version(&spec.version);
    // `Gem::Specification#date=` takes a `YYYY-MM-DD` string.
    inner.string(if spec.date.is_empty() {
        today
    } else {
        &spec.date
    });
    inner.string(&spec.summary);
    inner.requirement(&spec.required_ruby_version);
    inner.requirement(&spec.required_rubygems_version);
    inner.string(&spec.platform);
    inner.array_header(spec.dependencies.len());
    for dependency in &spec.dependencies {
        inner.out.push(b'o');
        inner.symbol("Gem::Dependency");
        inner.long(5);
        inner.symbol("@name");
        inner.string(&dependency.name);
        inner.symbol("@requirement");
        inner.requirement(&dependency.requirements);
        inner.symbol("@type");
        inner.symbol(if dependency.kind == "development" {
            "development"
        } else {
            "runtime"
        });
        inner.symbol("@prerelease");
        inner.boolean(false);
        inner.symbol("@version_requirements");
        inner.requirement(&dependency.requirements);
    }
    inner.string(""); // rubyforge_project
    match spec.email.as_slice() {
        [] => inner.nil(),
        [one] => inner.string(one),
        many => inner.strings(many),
    }
    inner.strings(&spec.authors);
    inner.optional_string(spec.description.as_deref());
    inner.optional_string(spec.homepage.as_deref());
    inner.boolean(true); // has_rdoc
    inner.string(&spec.platform); // new_platform
    inner.strings(&spec.licenses);
    inner.out.push(b'{');
    inner.long(i64::try_from(spec.metadata.len()).unwrap_or(0));
    for (key, value) in &spec.metadata {
        inner.string(key);
        inner.string(value);
    }

    let mut outer = Writer::new();
    outer.out.push(b'u');
    outer.symbol("Gem::Specification");
    outer.bytes(&inner.out);
    outer.out
}

/// `<full name>.gemspec.rz`: [`gemspec_marshal`], zlib-deflated.
#[must_use]
pub fn gemspec_rz(spec: &GemSpec, today: &str) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(&gemspec_marshal(spec, today));
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_are_written_as_ruby_writes_them() {
        let cases: [(i64, &[u8]); 7] = [
            (0, &[0]),
            (4, &[9]),
            (122, &[127]),
            (123, &[1, 123]),
            (479, &[2, 0xdf, 1]),
            (-1, &[0xfa]),
            (-124, &[0xff, 0x84]),
        ];
        for (value, expected) in cases {
            let mut writer = Writer::default();
            writer.long(value);
            assert_eq!(writer.out, expected, "{value}");
        }
    }

    #[test]
    fn repeated_symbols_are_links() {
        let mut writer = Writer::default();
        writer.string("a");
        writer.string("b");
        assert_eq!(writer.out, b"I\"\x06a\x06:\x06ETI\"\x06b\x06;\x00T");
    }
}
