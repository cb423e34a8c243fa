//! The npm publish document (`PUT /{package}`) read as a stream: npm inlines each tarball
//! base64-encoded in `_attachments.{file}.data`, so the document is as large as the
//! tarballs. [`extract_attachments`] scans the JSON once, decodes every attachment's `data`
//! straight into its own temp file (hashed on the way), and keeps the rest of the document,
//! which is small, in memory with `data` emptied, so memory does not grow with the tarballs.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use base64::Engine as _;

use crate::server::ingest::{BodyError, Spool, SpoolWriter};

/// Base64 characters decoded at a time (a multiple of 4).
const DECODE_CHUNK: usize = 64 * 1024;
/// Longest object key kept.
const MAX_KEY_BYTES: usize = 64 * 1024;

/// Why a publish document was refused.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// Not JSON npm could have sent, or an attachment that is not base64.
    #[error("{0}")]
    Invalid(String),
    /// Over a cap, or the temp file failed.
    #[error(transparent)]
    Body(#[from] BodyError),
}

impl From<std::io::Error> for ExtractError {
    fn from(error: std::io::Error) -> Self {
        Self::Body(BodyError::Io(error))
    }
}

/// The document without its tarballs, and the tarballs by attachment name.
#[derive(Debug)]
pub struct Extracted {
    /// The JSON document, every `_attachments.*.data` replaced by `""`.
    pub document: Vec<u8>,
    /// Decoded attachments by their key in `_attachments`.
    pub attachments: HashMap<String, Spool>,
}

enum Frame {
    Object {
        key: Option<String>,
        expect_key: bool,
    },
    Array,
}

struct Scanner<'a, R> {
    reader: R,
    document: Vec<u8>,
    document_limit: u64,
    tmp: &'a Path,
    attachment_limit: u64,
}

impl<R: BufRead> Scanner<'_, R> {
    fn next_byte(&mut self) -> std::io::Result<Option<u8>> {
        let buffer = self.reader.fill_buf()?;
        let Some(&byte) = buffer.first() else {
            return Ok(None);
        };
        self.reader.consume(1);
        Ok(Some(byte))
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), ExtractError> {
        if (self.document.len() + bytes.len()) as u64 > self.document_limit {
            return Err(BodyError::TooLarge {
                limit: self.document_limit,
            }
            .into());
        }
        self.document.extend_from_slice(bytes);
        Ok(())
    }

    /// After an opening quote: the raw string up to (not including) its closing quote,
    /// escapes left as they are, handed to `sink` in pieces.
    fn raw_string(
        &mut self,
        mut sink: impl FnMut(&mut Self, &[u8]) -> Result<(), ExtractError>,
    ) -> Result<(), ExtractError> {
        loop {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                return Err(ExtractError::Invalid("unterminated string".to_owned()));
            }
            let stop = buffer.iter().position(|byte| matches!(byte, b'"' | b'\\'));
            match stop {
                None => {
                    let piece = buffer.to_vec();
                    self.reader.consume(piece.len());
                    sink(self, &piece)?;
                }
                Some(index) => {
                    let piece = buffer[..index].to_vec();
                    let quote = buffer[index] == b'"';
                    self.reader.consume(index + 1);
                    sink(self, &piece)?;
                    if quote {
                        return Ok(());
                    }
                    let escaped = self
                        .next_byte()?
                        .ok_or_else(|| ExtractError::Invalid("unterminated string".to_owned()))?;
                    sink(self, &[b'\\', escaped])?;
                }
            }
        }
    }

    /// After the opening quote of an attachment's `data`: decode it into a temp file.
    fn attachment(&mut self) -> Result<Spool, ExtractError> {
        let mut writer = SpoolWriter::create(self.tmp, self.attachment_limit)?;
        let mut pending: Vec<u8> = Vec::with_capacity(DECODE_CHUNK + 4);
        let mut escape = false;
        let invalid = || ExtractError::Invalid("attachment `data` is not base64".to_owned());
        let decode = |pending: &mut Vec<u8>, writer: &mut SpoolWriter, all: bool| {
            let length = if all {
                pending.len()
            } else {
                pending.len() / 4 * 4
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&pending[..length])
                .map_err(|_| invalid())?;
            writer.write(&decoded)?;
            pending.drain(..length);
            Ok::<(), ExtractError>(())
        };
        self.raw_string(|_, piece| {
            for &byte in piece {
                if escape {
                    escape = false;
                    // `\/` is how some encoders write `/`; other escapes carry nothing
                    // base64 needs.
                    if byte == b'/' {
                        pending.push(b'/');
                    }
                } else if byte == b'\\' {
                    escape = true;
                } else {
                    pending.push(byte);
                }
            }
            if pending.len() >= DECODE_CHUNK {
                decode(&mut pending, &mut writer, false)?;
            }
            Ok(())
        })?;
        decode(&mut pending, &mut writer, true)?;
        Ok(writer.finish())
    }
}

/// Whether the value about to be read is `_attachments.{name}.data`; then the name.
fn attachment_name(stack: &[Frame]) -> Option<&str> {
    match stack {
        [
            Frame::Object {
                key: Some(root), ..
            },
            Frame::Object {
                key: Some(name), ..
            },
            Frame::Object {
                key: Some(data),
                expect_key: false,
            },
        ] if root == "_attachments" && data == "data" => Some(name),
        _ => None,
    }
}

/// Read an npm publish document from `reader`, decoding each `_attachments.*.data` into a
/// temp file in `tmp` (at most `attachment_limit` bytes each) and keeping the rest (at most
/// `document_limit` bytes) in memory.
///
/// The scan only tracks nesting and keys; the document it keeps is then parsed as JSON,
/// which is where malformed input is refused.
///
/// # Errors
/// [`ExtractError::Invalid`] for an unterminated string or bad base64, and
/// [`ExtractError::Body`] over a cap or on I/O failure.
pub fn extract_attachments(
    reader: impl BufRead,
    tmp: &Path,
    document_limit: u64,
    attachment_limit: u64,
) -> Result<Extracted, ExtractError> {
    let mut scanner = Scanner {
        reader,
        document: Vec::new(),
        document_limit,
        tmp,
        attachment_limit,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut attachments = HashMap::new();
    while let Some(byte) = scanner.next_byte()? {
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'{' => {
                scanner.push(b"{")?;
                stack.push(Frame::Object {
                    key: None,
                    expect_key: true,
                });
            }
            b'[' => {
                scanner.push(b"[")?;
                stack.push(Frame::Array);
            }
            b'}' | b']' => {
                scanner.push(&[byte])?;
                stack.pop();
            }
            b':' => {
                scanner.push(b":")?;
                if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                    *expect_key = false;
                }
            }
            b',' => {
                scanner.push(b",")?;
                if let Some(Frame::Object { key, expect_key }) = stack.last_mut() {
                    *key = None;
                    *expect_key = true;
                }
            }
            b'"' => {
                if let Some(Frame::Object {
                    expect_key: true, ..
                }) = stack.last()
                {
                    let mut raw = vec![b'"'];
                    scanner.raw_string(|_, piece| {
                        raw.extend_from_slice(piece);
                        if raw.len() > MAX_KEY_BYTES {
                            return Err(ExtractError::Invalid("an object key is too long".into()));
                        }
                        Ok(())
                    })?;
                    raw.push(b'"');
                    scanner.push(&raw)?;
                    let decoded: String = serde_json::from_slice(&raw)
                        .map_err(|error| ExtractError::Invalid(error.to_string()))?;
                    if let Some(Frame::Object { key, .. }) = stack.last_mut() {
                        *key = Some(decoded);
                    }
                } else if let Some(name) = attachment_name(&stack) {
                    let name = name.to_owned();
                    let spool = scanner.attachment()?;
                    scanner.push(b"\"\"")?;
                    attachments.insert(name, spool);
                } else {
                    scanner.push(b"\"")?;
                    scanner.raw_string(Scanner::push)?;
                    scanner.push(b"\"")?;
                }
            }
            other => scanner.push(&[other])?,
        }
    }
    Ok(Extracted {
        document: scanner.document,
        attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_decoded_to_files_and_emptied_in_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let tarball: Vec<u8> = (0..200_000_u32).map(|index| (index % 251) as u8).collect();
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(&tarball)
            .replace('/', "\\/");
        let document = format!(
            r#"{{ "name": "a", "description": "with \"quotes\" and a \\ and data",
                "versions": {{"1.0.0": {{"data": "not an attachment", "x": [1, {{"_attachments": 2}}]}}}},
                "_attachments": {{ "a-1.0.0.tgz": {{ "content_type": "application/octet-stream",
                "data": "{encoded}", "length": {} }} }} }}"#,
            tarball.len()
        );
        // A reader that hands out a few bytes at a time, as a socket would.
        let reader = std::io::BufReader::with_capacity(7, document.as_bytes());
        let extracted = extract_attachments(reader, dir.path(), 4096, u64::MAX).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&extracted.document).unwrap();
        assert_eq!(value["description"], "with \"quotes\" and a \\ and data");
        assert_eq!(value["versions"]["1.0.0"]["data"], "not an attachment");
        assert_eq!(value["_attachments"]["a-1.0.0.tgz"]["data"], "");
        assert_eq!(value["_attachments"]["a-1.0.0.tgz"]["length"], 200_000);
        let spool = &extracted.attachments["a-1.0.0.tgz"];
        assert_eq!(spool.read_all().unwrap(), tarball);
        assert_eq!(spool.digests(), &crate::archive::Digests::of(&tarball));
    }

    #[test]
    fn bad_base64_and_documents_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bad = br#"{"_attachments":{"a.tgz":{"data":"!!!!"}}}"#;
        assert!(matches!(
            extract_attachments(&bad[..], dir.path(), 4096, 4096),
            Err(ExtractError::Invalid(_))
        ));
        let big = format!(r#"{{"readme":"{}"}}"#, "x".repeat(5000));
        assert!(matches!(
            extract_attachments(big.as_bytes(), dir.path(), 4096, 4096),
            Err(ExtractError::Body(BodyError::TooLarge { limit: 4096 }))
        ));
        let tarball = format!(
            r#"{{"_attachments":{{"a.tgz":{{"data":"{}"}}}}}}"#,
            "QUFB".repeat(100)
        );
        assert!(matches!(
            extract_attachments(tarball.as_bytes(), dir.path(), 4096, 200),
            Err(ExtractError::Body(BodyError::TooLarge { limit: 200 }))
        ));
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 0);
    }
}
