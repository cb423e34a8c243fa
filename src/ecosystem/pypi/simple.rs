//! The one parser of simple-repository project pages (PEP 503 HTML, PEP 691 JSON), shared
//! by `lading restore`, `lading publish` and `lading serve`'s pull-through.
//!
//! It keeps every fact a page states about a file, as the page spells it: hashes (JSON
//! `hashes`, or the HTML link's `#<algorithm>=` fragment), `requires-python`, PEP 592
//! `yanked` with its reason, PEP 700 `upload-time` and `size`, and PEP 658 / PEP 714 core
//! metadata (`core-metadata`, else the older `dist-info-metadata` / `data-dist-info-metadata`
//! spellings); and the page's PEP 700 `versions`. A server that re-renders the page from
//! these facts (see `server::pypi`) then says what the upstream said.

use std::collections::BTreeMap;

use serde_json::Value;

/// A project page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectPage {
    /// The PEP 700 `versions` list (JSON pages of api-version 1.1 and later; empty otherwise).
    pub versions: Vec<String>,
    /// The files, in page order.
    pub files: Vec<PageFile>,
}

/// One file a project page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFile {
    /// File name (the JSON `filename`, the HTML link text, else the URL's last segment).
    pub filename: String,
    /// Absolute URL (resolved against the page), without fragment.
    pub url: url::Url,
    /// Hashes by lowercase algorithm name, lowercase hex.
    pub hashes: BTreeMap<String, String>,
    /// `requires-python` / `data-requires-python`.
    pub requires_python: Option<String>,
    /// PEP 592: `None` when not yanked, else the reason (empty when none was given).
    pub yanked: Option<String>,
    /// PEP 700 `upload-time`, as the page wrote it (JSON only).
    pub upload_time: Option<String>,
    /// PEP 700 `size` in bytes (JSON only).
    pub size: Option<u64>,
    /// PEP 658 / PEP 714 core metadata: `None` when not offered, else the hashes of the
    /// `<url>.metadata` file (empty when the page only says `true`).
    pub core_metadata: Option<BTreeMap<String, String>>,
}

impl PageFile {
    /// The listed sha256, if any.
    #[must_use]
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}

/// Parse a project page: PEP 691 JSON when the body is a JSON object, else PEP 503 HTML.
/// Links are resolved against `page_url`; entries without a usable URL are skipped.
///
/// # Errors
/// A JSON page that is not valid JSON (the message says why).
///
/// ```
/// use lading::ecosystem::pypi::simple::parse_project_page;
/// let page = url::Url::parse("https://example.test/simple/demo/").unwrap();
/// let html = br#"<a href="../../f/demo-1.0.tar.gz#sha256=AB" data-yanked="broken">demo-1.0.tar.gz</a>"#;
/// let parsed = parse_project_page(html, &page).unwrap();
/// assert_eq!(parsed.files[0].sha256(), Some("ab"));
/// assert_eq!(parsed.files[0].yanked.as_deref(), Some("broken"));
/// ```
pub fn parse_project_page(body: &[u8], page_url: &url::Url) -> Result<ProjectPage, String> {
    if body.trim_ascii_start().starts_with(b"{") {
        let document: Value =
            serde_json::from_slice(body).map_err(|error| format!("invalid JSON: {error}"))?;
        Ok(parse_json(&document, page_url))
    } else {
        Ok(parse_html(&String::from_utf8_lossy(body), page_url))
    }
}

fn hash_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(algorithm, digest)| {
            Some((
                algorithm.to_ascii_lowercase(),
                digest.as_str()?.to_ascii_lowercase(),
            ))
        })
        .collect()
}

/// A PEP 691 / PEP 714 core-metadata value: `true` or a hash dictionary offers it.
fn json_core_metadata(value: &Value) -> Option<BTreeMap<String, String>> {
    match value {
        Value::Bool(true) => Some(BTreeMap::new()),
        Value::Object(_) => Some(hash_map(value)),
        _ => None,
    }
}

fn parse_json(document: &Value, page_url: &url::Url) -> ProjectPage {
    let mut page = ProjectPage {
        versions: document["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|version| version.as_str().map(ToOwned::to_owned))
            .collect(),
        files: Vec::new(),
    };
    for entry in document["files"].as_array().into_iter().flatten() {
        let (Some(filename), Some(href)) = (entry["filename"].as_str(), entry["url"].as_str())
        else {
            continue;
        };
        let Ok(mut url) = page_url.join(href) else {
            continue;
        };
        url.set_fragment(None);
        // PEP 714: `core-metadata` wins; `dist-info-metadata` (and PyPI's
        // `data-dist-info-metadata`) are the older spellings.
        let core_metadata = [
            "core-metadata",
            "dist-info-metadata",
            "data-dist-info-metadata",
        ]
        .iter()
        .find(|key| entry.get(**key).is_some_and(|value| !value.is_null()))
        .and_then(|key| json_core_metadata(&entry[*key]));
        page.files.push(PageFile {
            filename: filename.to_owned(),
            url,
            hashes: hash_map(&entry["hashes"]),
            requires_python: entry["requires-python"].as_str().map(ToOwned::to_owned),
            yanked: match &entry["yanked"] {
                Value::Bool(true) => Some(String::new()),
                Value::String(reason) => Some(reason.clone()),
                _ => None,
            },
            upload_time: entry["upload-time"].as_str().map(ToOwned::to_owned),
            size: entry["size"].as_u64(),
            core_metadata,
        });
    }
    page
}

/// An HTML core-metadata attribute value: `true`, or `<algorithm>=<hex>`.
fn html_core_metadata(value: &str) -> Option<BTreeMap<String, String>> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") || value.is_empty() {
        return Some(BTreeMap::new());
    }
    let (algorithm, digest) = value.split_once('=')?;
    Some(BTreeMap::from([(
        algorithm.trim().to_ascii_lowercase(),
        digest.trim().to_ascii_lowercase(),
    )]))
}

fn parse_html(text: &str, page_url: &url::Url) -> ProjectPage {
    let mut page = ProjectPage::default();
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("<a") {
        let start = from + found + 2;
        let Some(tag_end) = lower[start..].find('>').map(|end| start + end) else {
            break;
        };
        from = tag_end;
        if !lower[start..].starts_with(|character: char| character.is_whitespace()) {
            continue;
        }
        let tag = &text[start..tag_end];
        let Some(href) = attribute(tag, "href") else {
            continue;
        };
        let Ok(mut url) = page_url.join(&href) else {
            continue;
        };
        let mut hashes = BTreeMap::new();
        if let Some((algorithm, digest)) =
            url.fragment().and_then(|fragment| fragment.split_once('='))
        {
            hashes.insert(algorithm.to_ascii_lowercase(), digest.to_ascii_lowercase());
        }
        url.set_fragment(None);
        let content_end = lower[tag_end..]
            .find("</a")
            .map_or(text.len(), |end| tag_end + end);
        let label = unescape_html(text[tag_end + 1..content_end].trim());
        let filename = if label.is_empty() {
            url.path_segments()
                .and_then(|mut segments| segments.next_back())
                .map(|segment| {
                    percent_encoding::percent_decode_str(segment)
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .unwrap_or_default()
        } else {
            label
        };
        let core_metadata = attribute(tag, "data-core-metadata")
            .or_else(|| attribute(tag, "data-dist-info-metadata"))
            .and_then(|value| html_core_metadata(&value));
        page.files.push(PageFile {
            filename,
            url,
            hashes,
            requires_python: attribute(tag, "data-requires-python"),
            yanked: attribute(tag, "data-yanked"),
            upload_time: None,
            size: None,
            core_metadata,
        });
    }
    page
}

/// Undo the HTML escapes a simple page may use in attribute values and link text.
#[must_use]
pub fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in the inside of an HTML start tag (case-insensitive name,
/// double, single or no quotes); a bare attribute (`data-yanked` alone) has the value `""`.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let start = from + found;
        from = start + name.len();
        let before = lower[..start].chars().last();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let after = tag[from..].chars().next();
        let rest = tag[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            if after.is_none_or(|character| character.is_whitespace() || character == '/') {
                return Some(String::new());
            }
            continue;
        };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or_default(),
            _ => rest.split(char::is_whitespace).next().unwrap_or_default(),
        };
        return Some(unescape_html(value));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> url::Url {
        url::Url::parse("http://upstream.test/simple/demo/").unwrap()
    }

    #[test]
    fn html_pages_keep_every_attribute() {
        let html = br#"<html><body><h1>Links</h1>
<a href="/packages/demo-1.0.tar.gz#sha256=ABC">demo-1.0.tar.gz</a><br>
<A data-requires-python="&gt;=3.8" HREF='../../x/demo-1.1-py3-none-any.whl' data-yanked="bad &amp; broken" data-dist-info-metadata="sha256=DD">demo-1.1-py3-none-any.whl</A>
<a href="demo-1.2-py3-none-any.whl#md5=ee" data-yanked data-core-metadata="true" data-dist-info-metadata="sha256=00"></a>
<a href="demo-1.3.zip" data-yanked="">demo-1.3.zip</a>
</body></html>"#;
        let files = parse_project_page(html, &page()).unwrap().files;
        assert_eq!(files.len(), 4);
        assert_eq!(files[0].filename, "demo-1.0.tar.gz");
        assert_eq!(
            files[0].url.as_str(),
            "http://upstream.test/packages/demo-1.0.tar.gz"
        );
        assert_eq!(files[0].sha256(), Some("abc"));
        assert_eq!(files[0].yanked, None);
        assert_eq!(files[0].core_metadata, None);
        assert_eq!(
            files[1].url.as_str(),
            "http://upstream.test/x/demo-1.1-py3-none-any.whl"
        );
        assert_eq!(files[1].sha256(), None);
        assert_eq!(files[1].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(files[1].yanked.as_deref(), Some("bad & broken"));
        assert_eq!(
            files[1].core_metadata,
            Some(BTreeMap::from([("sha256".into(), "dd".into())]))
        );
        assert_eq!(files[2].filename, "demo-1.2-py3-none-any.whl");
        assert_eq!(files[2].hashes.get("md5").map(String::as_str), Some("ee"));
        assert_eq!(files[2].yanked.as_deref(), Some(""));
        assert_eq!(files[2].core_metadata, Some(BTreeMap::new()));
        assert_eq!(files[3].yanked.as_deref(), Some(""));
    }

    #[test]
    fn json_pages_keep_every_key() {
        let json = br#"{"meta":{"api-version":"1.1"},"name":"demo","versions":["1.0","2.0","3.0"],"files":[
{"filename":"demo-2.0.tar.gz","url":"https://files.test/demo-2.0.tar.gz","hashes":{"sha256":"DEF","blake2b_256":"01"},"requires-python":">=3.9","yanked":"no good","upload-time":"2021-05-06T17:16:14.958932Z","size":12,"core-metadata":{"sha256":"AA"}},
{"filename":"demo-1.0-py3-none-any.whl","url":"../../w/demo-1.0-py3-none-any.whl","hashes":{},"requires-python":null,"yanked":true,"data-dist-info-metadata":{"sha256":"bb"}},
{"filename":"demo-3.0.tar.gz","url":"demo-3.0.tar.gz","hashes":{"sha256":"cc"},"yanked":false,"core-metadata":false,"dist-info-metadata":true}
]}"#;
        let parsed = parse_project_page(json, &page()).unwrap();
        assert_eq!(parsed.versions, ["1.0", "2.0", "3.0"]);
        let files = parsed.files;
        assert_eq!(files[0].url.as_str(), "https://files.test/demo-2.0.tar.gz");
        assert_eq!(files[0].sha256(), Some("def"));
        assert_eq!(files[0].hashes.len(), 2);
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(files[0].yanked.as_deref(), Some("no good"));
        assert_eq!(
            files[0].upload_time.as_deref(),
            Some("2021-05-06T17:16:14.958932Z")
        );
        assert_eq!(files[0].size, Some(12));
        assert_eq!(
            files[0].core_metadata,
            Some(BTreeMap::from([("sha256".into(), "aa".into())]))
        );
        assert_eq!(
            files[1].url.as_str(),
            "http://upstream.test/w/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[1].requires_python, None);
        assert_eq!(files[1].yanked.as_deref(), Some(""));
        assert_eq!(
            files[1].core_metadata,
            Some(BTreeMap::from([("sha256".into(), "bb".into())]))
        );
        // `core-metadata: false` says "not offered"; PEP 714 has it win over the old key.
        assert_eq!(files[2].yanked, None);
        assert_eq!(files[2].core_metadata, None);
        assert!(parse_project_page(b"{not json", &page()).is_err());
    }
}
