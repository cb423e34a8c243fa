//! Reading a crate from an upstream sparse index (crates.io's `https://index.crates.io/`,
//! or any registry with a sparse index): its index file and the registry's `config.json`,
//! both through the pull-through engine's metadata cache, so a crate read once is still
//! served when the upstream is down.

use serde_json::Value;

use super::index::{download_url, index_path};
use crate::server::pull_through::{UpstreamAdapter, UpstreamReader};

/// The cache key of a registry's `config.json` within its connection (a crate name never
/// contains a `.`, so it cannot collide with one).
const CONFIG_KEY: &str = "config.json";

/// One crate's index file from an external connection of format `cargo`.
#[derive(Debug)]
pub struct SparseIndex<'a> {
    /// The crate, lowercase (as its index path is).
    pub name: &'a str,
}

/// What an upstream sparse index has for a crate.
#[derive(Debug, Clone)]
pub struct UpstreamCrate {
    /// Every line that is a JSON object with `vers` and `cksum`, as the upstream wrote it
    /// (the text) and parsed.
    pub lines: Vec<(String, Value)>,
    /// The registry's `dl` (from its `config.json`).
    pub dl: String,
}

impl UpstreamCrate {
    /// The line of `version`.
    #[must_use]
    pub fn line(&self, version: &str) -> Option<&Value> {
        self.lines
            .iter()
            .map(|(_, line)| line)
            .find(|line| line.get("vers").and_then(Value::as_str) == Some(version))
    }

    /// Where the upstream serves the `.crate` of `line`'s version.
    #[must_use]
    pub fn download_url(&self, line: &Value) -> Option<url::Url> {
        let field = |name: &str| line.get(name).and_then(Value::as_str);
        let url = download_url(&self.dl, field("name")?, field("vers")?, field("cksum")?);
        url::Url::parse(&url).ok()
    }
}

impl UpstreamAdapter for SparseIndex<'_> {
    const FORMAT: crate::format::Format = super::FORMAT;
    type Document = UpstreamCrate;

    async fn read(
        &self,
        upstream: &mut UpstreamReader<'_>,
    ) -> Result<Option<UpstreamCrate>, String> {
        let url = upstream.join(&index_path(self.name))?;
        let Some(body) = upstream.document(&url, "text/plain", self.name).await? else {
            return Ok(None);
        };
        let config_url = upstream.join(CONFIG_KEY)?;
        let config = upstream
            .document(&config_url, "application/json", CONFIG_KEY)
            .await?
            .ok_or_else(|| upstream.invalid("registry", "it has no `config.json`"))?;
        let config: Value = serde_json::from_slice(&config)
            .map_err(|error| upstream.invalid("`config.json`", error))?;
        let dl = config
            .get("dl")
            .and_then(Value::as_str)
            .ok_or_else(|| upstream.invalid("`config.json`", "no `dl`"))?
            .to_owned();
        let text = String::from_utf8_lossy(&body);
        // Cargo skips lines it cannot read (a newer index format); so does this.
        let lines = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .filter_map(|line| {
                let value: Value = serde_json::from_str(line).ok()?;
                let usable = value.get("vers").is_some_and(Value::is_string)
                    && value.get("cksum").is_some_and(Value::is_string)
                    && value.get("name").is_some_and(Value::is_string);
                usable.then(|| (line.to_owned(), value))
            })
            .collect();
        Ok(Some(UpstreamCrate { lines, dl }))
    }
}
