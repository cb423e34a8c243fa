//! A `multipart/form-data` (RFC 7578) parser: [`parse_stream`] reads a form from a reader
//! (an upload spooled to disk) and writes each file part to its own temp file while fields
//! stay in memory under a cap, so memory does not grow with the upload (twine's `POST`,
//! NuGet pushes); [`parse`] splits a small form already in memory.

use bytes::Bytes;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The `name` of the field.
    pub name: String,
    /// The `filename` when the part is a file.
    pub filename: Option<String>,
    /// The part's `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// The content.
    pub data: Bytes,
}

impl Part {
    /// The content as text (lossy UTF-8).
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Why a body is not a well-formed form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// The request's `Content-Type` is not `multipart/form-data` with a boundary.
    #[error("expected `Content-Type: multipart/form-data; boundary=...`")]
    NotMultipart,
    /// The body does not follow the multipart grammar.
    #[error("malformed multipart body: {0}")]
    Malformed(&'static str),
}

/// The boundary of a `multipart/form-data` content type.
///
/// # Errors
/// [`MultipartError::NotMultipart`].
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut pieces = content_type.split(';');
    let media_type = pieces.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("multipart/form-data") {
        return Err(MultipartError::NotMultipart);
    }
    pieces
        .filter_map(|parameter| parameter.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|boundary| !boundary.is_empty() && boundary.len() <= 200)
        .ok_or(MultipartError::NotMultipart)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = haystack.len() - needle.len();
    let mut index = from;
    while index <= last_start {
        let offset = haystack[index..=last_start]
            .iter()
            .position(|byte| *byte == first)?;
        index += offset;
        if &haystack[index..index + needle.len()] == needle {
            return Some(index);
        }
        index += 1;
    }
    None
}

/// Parse a `Content-Disposition: form-data; name="..."; filename="..."` value.
fn disposition(value: &str) -> Result<(String, Option<String>), MultipartError> {
    let mut rest = value.trim();
    let kind_end = rest.find(';').unwrap_or(rest.len());
    if !rest[..kind_end].trim().eq_ignore_ascii_case("form-data") {
        return Err(MultipartError::Malformed("a part is not `form-data`"));
    }
    rest = &rest[kind_end..];
    let (mut name, mut filename) = (None, None);
    while let Some(after) = rest.strip_prefix(';') {
        let after = after.trim_start();
        let Some(equals) = after.find('=') else {
            break;
        };
        let key = after[..equals].trim().to_ascii_lowercase();
        let value_text = &after[equals + 1..];
        let (value, remainder) = if let Some(quoted) = value_text.strip_prefix('"') {
            let mut value = String::new();
            let mut characters = quoted.char_indices();
            let mut end = None;
            while let Some((index, character)) = characters.next() {
                match character {
                    '\\' => {
                        if let Some((_, escaped)) = characters.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(index);
                        break;
                    }
                    other => value.push(other),
                }
            }
            let end = end.ok_or(MultipartError::Malformed("unterminated quoted parameter"))?;
            (value, &quoted[end + 1..])
        } else {
            let end = value_text.find(';').unwrap_or(value_text.len());
            (value_text[..end].trim().to_owned(), &value_text[end..])
        };
        match key.as_str() {
            "name" => name = Some(value),
            "filename" => filename = Some(value),
            _ => {}
        }
        rest = remainder.trim_start();
    }
    let name = name.ok_or(MultipartError::Malformed("a part has no `name`"))?;
    Ok((name, filename))
}

/// Split a body into its parts.
///
/// # Errors
/// [`MultipartError::Malformed`] when a delimiter, header block or the final delimiter is
/// missing.
pub fn parse(body: &Bytes, boundary: &str) -> Result<Vec<Part>, MultipartError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let next_delimiter = format!("\r\n--{boundary}").into_bytes();
    // The first delimiter may open the body directly, without the CRLF that precedes the
    // others.
    let mut position = if body.starts_with(delimiter) {
        delimiter.len()
    } else {
        find(body, &next_delimiter, 0).ok_or(MultipartError::Malformed("no opening boundary"))?
            + next_delimiter.len()
    };
    let mut parts = Vec::new();
    loop {
        let after = &body[position..];
        if after.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding then CRLF after the delimiter.
        let line_end = find(body, b"\r\n", position)
            .ok_or(MultipartError::Malformed("boundary line without CRLF"))?;
        if body[position..line_end]
            .iter()
            .any(|byte| !matches!(byte, b' ' | b'\t'))
        {
            return Err(MultipartError::Malformed("text after a boundary"));
        }
        let headers_start = line_end + 2;
        let (headers_end, data_start) = if body[headers_start..].starts_with(b"\r\n") {
            (headers_start, headers_start + 2)
        } else {
            let end = find(body, b"\r\n\r\n", headers_start)
                .ok_or(MultipartError::Malformed("part headers do not end"))?;
            (end, end + 4)
        };
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]);
        let (mut field, mut content_type) = (None, None);
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                field = Some(disposition(value)?);
            } else if key.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            }
        }
        let (name, filename) = field.ok_or(MultipartError::Malformed(
            "a part has no Content-Disposition",
        ))?;
        let data_end = find(body, &next_delimiter, data_start).ok_or(MultipartError::Malformed(
            "a part is not closed by a boundary",
        ))?;
        parts.push(Part {
            name,
            filename,
            content_type,
            data: body.slice(data_start..data_end),
        });
        position = data_end + next_delimiter.len();
    }
}

/// A part read by [`parse_stream`].
#[derive(Debug)]
pub struct StreamedPart {
    /// The `name` of the field.
    pub name: String,
    /// The `filename` when the part is a file.
    pub filename: Option<String>,
    /// The content: in memory for fields, in a temp file for file parts.
    pub content: StreamedContent,
}

/// Where a streamed part's content is.
#[derive(Debug)]
pub enum StreamedContent {
    /// A field, in memory.
    Field(Vec<u8>),
    /// A file part, in a temp file with its digests.
    File(Box<super::ingest::Spool>),
}

/// Why a streamed form was refused.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Not a well-formed form.
    #[error(transparent)]
    Form(#[from] MultipartError),
    /// Over a cap, or the temp file failed.
    #[error(transparent)]
    Body(#[from] super::ingest::BodyError),
}

impl From<std::io::Error> for StreamError {
    fn from(error: std::io::Error) -> Self {
        Self::Body(super::ingest::BodyError::Io(error))
    }
}

/// Bytes read from the source at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Longest accepted header block of one part, and longest preamble before the first
/// boundary.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// A window over a reader: what has been read and not consumed yet.
struct Window<R> {
    reader: R,
    buffer: Vec<u8>,
    start: usize,
    eof: bool,
}

impl<R: std::io::Read> Window<R> {
    fn available(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    /// Read until at least `wanted` bytes are available or the source ends.
    fn fill(&mut self, wanted: usize) -> std::io::Result<()> {
        while self.available().len() < wanted && !self.eof {
            if self.start > 0 {
                self.buffer.drain(..self.start);
                self.start = 0;
            }
            let end = self.buffer.len();
            self.buffer.resize(end + READ_CHUNK, 0);
            let read = self.reader.read(&mut self.buffer[end..])?;
            self.buffer.truncate(end + read);
            self.eof = read == 0;
        }
        Ok(())
    }

    fn consume(&mut self, count: usize) {
        self.start += count;
    }

    /// The position of `needle` in what is available, reading up to `limit` bytes.
    fn find_within(&mut self, needle: &[u8], limit: usize) -> std::io::Result<Option<usize>> {
        loop {
            if let Some(position) = find(self.available(), needle, 0) {
                return Ok(Some(position));
            }
            let length = self.available().len();
            if self.eof || length >= limit {
                return Ok(None);
            }
            self.fill(length + 1)?;
        }
    }
}

/// What a part's content is written to.
enum Sink {
    Field(Vec<u8>),
    File(Box<super::ingest::SpoolWriter>),
}

impl Sink {
    fn write(
        &mut self,
        data: &[u8],
        fields: &mut u64,
        field_limit: u64,
    ) -> Result<(), StreamError> {
        match self {
            Self::Field(bytes) => {
                *fields += data.len() as u64;
                if *fields > field_limit {
                    return Err(super::ingest::BodyError::TooLarge { limit: field_limit }.into());
                }
                bytes.extend_from_slice(data);
            }
            Self::File(writer) => writer.write(data)?,
        }
        Ok(())
    }
}

/// Read a form from `reader`: each part for which `to_file(name, filename)` says so goes to
/// a temp file in `tmp` of at most `file_limit` bytes, hashed as it is written; the others
/// (fields) stay in memory, at most `field_limit` bytes together.
///
/// # Errors
/// [`StreamError::Form`] when the grammar is broken, [`StreamError::Body`] over a cap or
/// on I/O failure. Temp files of parts read so far are removed.
pub fn parse_stream(
    reader: impl std::io::Read,
    boundary: &str,
    tmp: &std::path::Path,
    file_limit: u64,
    field_limit: u64,
    to_file: impl Fn(&str, Option<&str>) -> bool,
) -> Result<Vec<StreamedPart>, StreamError> {
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut window = Window {
        reader,
        buffer: Vec::with_capacity(2 * READ_CHUNK),
        start: 0,
        eof: false,
    };
    window.fill(delimiter.len())?;
    // The first delimiter may open the body directly, without the CRLF that precedes the
    // others; anything before it is a preamble to skip.
    if window.available().starts_with(&delimiter) {
        window.consume(delimiter.len());
    } else {
        let position = window
            .find_within(&next_delimiter, MAX_HEADER_BYTES)?
            .ok_or(MultipartError::Malformed("no opening boundary"))?;
        window.consume(position + next_delimiter.len());
    }
    let mut parts = Vec::new();
    let mut fields = 0_u64;
    loop {
        window.fill(2)?;
        if window.available().starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding then CRLF after the delimiter.
        let line_end = window
            .find_within(b"\r\n", MAX_HEADER_BYTES)?
            .ok_or(MultipartError::Malformed("boundary line without CRLF"))?;
        if window.available()[..line_end]
            .iter()
            .any(|byte| !matches!(byte, b' ' | b'\t'))
        {
            return Err(MultipartError::Malformed("text after a boundary").into());
        }
        window.consume(line_end + 2);
        window.fill(2)?;
        let headers = if window.available().starts_with(b"\r\n") {
            window.consume(2);
            String::new()
        } else {
            let end = window
                .find_within(b"\r\n\r\n", MAX_HEADER_BYTES)?
                .ok_or(MultipartError::Malformed("part headers do not end"))?;
            let headers = String::from_utf8_lossy(&window.available()[..end]).into_owned();
            window.consume(end + 4);
            headers
        };
        let mut field = None;
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                field = Some(disposition(value)?);
            }
        }
        // NuGet clients are not all strict about the part headers: a part without a
        // disposition is a nameless field.
        let (name, filename) = field.unwrap_or_default();
        let mut sink = if to_file(&name, filename.as_deref()) {
            Sink::File(Box::new(super::ingest::SpoolWriter::create(
                tmp, file_limit,
            )?))
        } else {
            Sink::Field(Vec::new())
        };
        // Write all but a tail that could hold the start of the delimiter, until it shows.
        loop {
            if let Some(position) = find(window.available(), &next_delimiter, 0) {
                sink.write(&window.available()[..position], &mut fields, field_limit)?;
                window.consume(position + next_delimiter.len());
                break;
            }
            if window.eof {
                return Err(MultipartError::Malformed("a part is not closed by a boundary").into());
            }
            let length = window.available().len();
            let safe = length.saturating_sub(next_delimiter.len() - 1);
            if safe > 0 {
                sink.write(&window.available()[..safe], &mut fields, field_limit)?;
                window.consume(safe);
            }
            let length = window.available().len();
            window.fill(length + READ_CHUNK)?;
        }
        let content = match sink {
            Sink::Field(bytes) => StreamedContent::Field(bytes),
            Sink::File(writer) => StreamedContent::File(Box::new(writer.finish())),
        };
        parts.push(StreamedPart {
            name,
            filename,
            content,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every in-memory test vector gives the same parts when streamed in small reads.
    #[test]
    fn streamed_parts_match_the_buffered_parser() {
        struct Trickle<'a>(&'a [u8]);
        impl std::io::Read for Trickle<'_> {
            fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
                let count = buffer.len().min(self.0.len()).min(3);
                buffer[..count].copy_from_slice(&self.0[..count]);
                self.0 = &self.0[count..];
                Ok(count)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let buffered = parse(&Bytes::from_static(BODY), "XyZ").unwrap();
        let streamed = parse_stream(Trickle(BODY), "XyZ", dir.path(), 1024, 1024, |_, file| {
            file.is_some()
        })
        .unwrap();
        assert_eq!(buffered.len(), streamed.len());
        for (expected, actual) in buffered.iter().zip(&streamed) {
            assert_eq!(expected.name, actual.name);
            assert_eq!(expected.filename, actual.filename);
            let content = match &actual.content {
                StreamedContent::Field(bytes) => bytes.clone(),
                StreamedContent::File(spool) => spool.read_all().unwrap(),
            };
            assert_eq!(&expected.data[..], &content[..]);
        }
        // Fields over their cap are refused; so is a form that never closes.
        assert!(matches!(
            parse_stream(BODY, "XyZ", dir.path(), 1024, 8, |_, _| false),
            Err(StreamError::Body(_))
        ));
        assert!(matches!(
            parse_stream(
                &BODY[..BODY.len() - 9],
                "XyZ",
                dir.path(),
                1024,
                1024,
                |_, _| true
            ),
            Err(StreamError::Form(_))
        ));
        drop(streamed);
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 0);
    }

    const BODY: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n--XyZ\r\nContent-Disposition: form-data; name=\"classifiers\"\r\n\r\nA :: B\r\n--XyZ\r\nContent-Disposition: form-data; name=\"classifiers\"\r\n\r\nC\r\n--XyZ\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a-1.0.tar.gz\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\r\n--X\r\nbinary\r\n--XyZ--\r\n";

    #[test]
    fn twine_shaped_forms_are_parsed() {
        let parts = parse(&Bytes::from_static(BODY), "XyZ").unwrap();
        let names: Vec<&str> = parts.iter().map(|part| part.name.as_str()).collect();
        assert_eq!(names, [":action", "classifiers", "classifiers", "content"]);
        assert_eq!(parts[0].text(), "file_upload");
        assert_eq!(parts[1].text(), "A :: B");
        let file = &parts[3];
        assert_eq!(file.filename.as_deref(), Some("a-1.0.tar.gz"));
        assert_eq!(
            file.content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(&file.data[..], b"\x00\r\n--X\r\nbinary");
    }

    #[test]
    fn preamble_and_empty_values_are_accepted() {
        let body = Bytes::from_static(
            b"preamble\r\n--b\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--b--",
        );
        let parts = parse(&body, "b").unwrap();
        assert_eq!(parts.len(), 1);
        assert!(parts[0].data.is_empty());
    }

    #[test]
    fn truncated_bodies_are_refused() {
        let body = Bytes::from_static(
            b"--b\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nno end",
        );
        assert!(parse(&body, "b").is_err());
        let body = Bytes::from_static(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--");
        assert!(parse(&body, "b").is_err());
        assert!(parse(&Bytes::from_static(b"nothing"), "b").is_err());
    }

    #[test]
    fn boundaries_and_dispositions_are_read() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc def\"").unwrap(),
            "abc def"
        );
        assert_eq!(boundary("Multipart/Form-Data;boundary=x").unwrap(), "x");
        assert!(boundary("application/json").is_err());
        assert!(boundary("multipart/form-data").is_err());
        assert_eq!(
            disposition(r#"form-data; name="content"; filename="we\"ird.whl""#).unwrap(),
            ("content".to_owned(), Some("we\"ird.whl".to_owned()))
        );
        assert_eq!(
            disposition("form-data; name=plain").unwrap(),
            ("plain".to_owned(), None)
        );
    }
}
