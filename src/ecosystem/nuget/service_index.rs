//! The NuGet v3 service index (`index.json`): the one reader of it, for `lading publish`
//! (where to push), `lading restore` (where packages are) and `lading serve`'s pull-through
//! from an external feed (where registrations are).
//!
//! A resource's `@type` is a name with an optional version (`PackagePublish/2.0.0`), as a
//! string or, on some feeds, an array of them. Asking for a name without a version takes any
//! version of it; asking for a version takes exactly that one.

use serde_json::Value;

/// A parsed service index: its resources, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceIndex {
    resources: Vec<Resource>,
}

/// One resource of a service index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resource {
    /// `@id`, unparsed (callers parse it as a URL of the kind they need).
    id: String,
    /// `@type`, one or several.
    types: Vec<String>,
}

/// Whether a resource type (`RegistrationsBaseUrl/3.6.0`) is the `wanted` one: the same
/// name at any version when `wanted` names none (`PackagePublish`), else exactly it.
fn type_matches(kind: &str, wanted: &str) -> bool {
    kind == wanted
        || kind.strip_prefix(wanted).is_some_and(|rest| {
            !wanted.contains('/')
                && rest.strip_prefix('/').is_some_and(|version| {
                    version.starts_with(|first: char| first.is_ascii_digit())
                })
        })
}

impl ServiceIndex {
    /// Read a service index document.
    ///
    /// # Errors
    /// When `body` is not JSON or has no `resources` array.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let document: Value =
            serde_json::from_slice(body).map_err(|error| format!("it is not JSON: {error}"))?;
        Self::from_document(&document)
    }

    /// Read a service index already parsed as JSON.
    ///
    /// # Errors
    /// When it has no `resources` array.
    pub fn from_document(document: &Value) -> Result<Self, String> {
        let resources = document
            .get("resources")
            .and_then(Value::as_array)
            .ok_or_else(|| "it has no `resources` array".to_owned())?;
        let resources = resources
            .iter()
            .filter_map(|resource| {
                let id = resource.get("@id")?.as_str()?.to_owned();
                let types = match resource.get("@type")? {
                    Value::String(kind) => vec![kind.clone()],
                    Value::Array(kinds) => kinds
                        .iter()
                        .filter_map(Value::as_str)
                        .map(ToOwned::to_owned)
                        .collect(),
                    _ => return None,
                };
                Some(Resource { id, types })
            })
            .collect();
        Ok(Self { resources })
    }

    /// The `@id` of the first resource of the first type in `preference` that the index
    /// lists (see the module docs for how types match).
    #[must_use]
    pub fn resource(&self, preference: &[&str]) -> Option<&str> {
        preference.iter().find_map(|wanted| {
            self.resources
                .iter()
                .find(|resource| resource.types.iter().any(|kind| type_matches(kind, wanted)))
                .map(|resource| resource.id.as_str())
        })
    }

    /// [`Self::resource`] as a base URL that relative paths join under (ends in `/`).
    #[must_use]
    pub fn base_url(&self, preference: &[&str]) -> Option<url::Url> {
        let mut base = url::Url::parse(self.resource(preference)?).ok()?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Some(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_match_by_name_at_any_version_or_exactly() {
        assert!(type_matches("PackagePublish/2.0.0", "PackagePublish"));
        assert!(type_matches("PackagePublish", "PackagePublish"));
        assert!(type_matches(
            "RegistrationsBaseUrl/3.6.0",
            "RegistrationsBaseUrl/3.6.0"
        ));
        assert!(!type_matches(
            "RegistrationsBaseUrl/3.4.0",
            "RegistrationsBaseUrl/3.6.0"
        ));
        assert!(!type_matches(
            "RegistrationsBaseUrl/Versioned",
            "RegistrationsBaseUrl"
        ));
        assert!(!type_matches("PackagePublishV9", "PackagePublish"));
    }

    #[test]
    fn the_first_preferred_type_wins_and_bases_end_in_a_slash() {
        let index = ServiceIndex::from_document(&json!({"version": "3.0.0", "resources": [
            {"@id": "https://feed/flat", "@type": "PackageBaseAddress/3.0.0"},
            {"@id": "https://feed/reg-semver1", "@type": "RegistrationsBaseUrl"},
            {"@id": "https://feed/reg-semver2/", "@type": ["RegistrationsBaseUrl/3.6.0"]},
            {"@id": 7, "@type": "Broken"},
        ]}))
        .unwrap();
        assert_eq!(
            index
                .base_url(&["RegistrationsBaseUrl/3.6.0", "RegistrationsBaseUrl"])
                .unwrap()
                .as_str(),
            "https://feed/reg-semver2/"
        );
        assert_eq!(
            index
                .base_url(&["PackageBaseAddress/3.0.0"])
                .unwrap()
                .as_str(),
            "https://feed/flat/"
        );
        assert_eq!(index.resource(&["PackagePublish"]), None);
        assert!(ServiceIndex::parse(b"{}").is_err());
        assert!(ServiceIndex::parse(b"<html>").is_err());
    }
}
