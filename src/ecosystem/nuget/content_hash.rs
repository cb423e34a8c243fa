//! NuGet's `contentHash`: the SHA-512 of a `.nupkg`, except that a signed package (one with
//! a `.signature.p7s` entry) is hashed as if the signature were not there, so signing a
//! package (or a repository countersigning it) does not change what lockfiles pin.
//!
//! This follows `SignedPackageArchiveUtility.GetPackageContentHash` in NuGet.Packaging: the
//! bytes before the first file entry, every other file entry in offset order, every other
//! central directory header in order with its local header offset moved back over the
//! removed entry, and the end of central directory record with one entry fewer and the
//! directory's size and offset reduced by the signature's header and entry.

use sha2::Digest as _;

use crate::cas::{Algorithm, Digest};

/// The name of a package signature entry.
pub const SIGNATURE_FILE: &str = ".signature.p7s";

const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_HEADER_FIXED: usize = 46;
const END_OF_CENTRAL_DIRECTORY_FIXED: usize = 22;

/// A `.nupkg` whose zip structure cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("not a readable zip archive: {0}")]
pub struct ContentHashError(&'static str);

struct Header {
    /// Where the central directory header starts.
    position: usize,
    /// Its total size (fixed part, name, extra field, comment).
    size: usize,
    /// Offset of its local file header.
    offset: usize,
    /// Size of its file entry (local header to the next entry or the central directory).
    entry_size: usize,
    signature: bool,
}

fn u16_at(bytes: &[u8], at: usize) -> Result<usize, ContentHashError> {
    bytes
        .get(at..at + 2)
        .map(|slice| usize::from(u16::from_le_bytes([slice[0], slice[1]])))
        .ok_or(ContentHashError("truncated"))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<usize, ContentHashError> {
    let slice = bytes.get(at..at + 4).ok_or(ContentHashError("truncated"))?;
    let value = u32::from_le_bytes([slice[0], slice[1], slice[2], slice[3]]);
    usize::try_from(value).map_err(|_| ContentHashError("offset too large"))
}

fn end_of_central_directory(bytes: &[u8]) -> Result<usize, ContentHashError> {
    let last = bytes
        .len()
        .checked_sub(END_OF_CENTRAL_DIRECTORY_FIXED)
        .ok_or(ContentHashError("too short"))?;
    let first = last.saturating_sub(usize::from(u16::MAX));
    (first..=last)
        .rev()
        .find(|&at| u32_at(bytes, at).ok() == Some(END_OF_CENTRAL_DIRECTORY_SIGNATURE as usize))
        .ok_or(ContentHashError("no end of central directory record"))
}

fn slice(bytes: &[u8], start: usize, end: usize) -> Result<&[u8], ContentHashError> {
    bytes
        .get(start..end)
        .ok_or(ContentHashError("an entry lies outside the archive"))
}

fn truncate_u32(value: usize) -> [u8; 4] {
    // Zip32 fields: NuGet casts to uint the same way.
    #[expect(clippy::cast_possible_truncation, reason = "a zip32 field")]
    (value as u32).to_le_bytes()
}

/// NuGet's content hash of `bytes`: the plain SHA-512 unless the archive holds a
/// `.signature.p7s` entry.
///
/// # Errors
/// A signed archive whose zip structure cannot be read.
pub fn content_hash(bytes: &[u8]) -> Result<Digest, ContentHashError> {
    let plain = || Digest::of(Algorithm::Sha512, bytes);
    let Ok(eocd) = end_of_central_directory(bytes) else {
        return Ok(plain());
    };
    let entries = u16_at(bytes, eocd + 10)?;
    let directory_size = u32_at(bytes, eocd + 12)?;
    let directory_start = u32_at(bytes, eocd + 16)?;
    let mut headers = Vec::with_capacity(entries);
    let mut position = directory_start;
    for _ in 0..entries {
        if u32_at(bytes, position)? != CENTRAL_HEADER_SIGNATURE as usize {
            return Err(ContentHashError("bad central directory header"));
        }
        let name_length = u16_at(bytes, position + 28)?;
        let size = CENTRAL_HEADER_FIXED
            + name_length
            + u16_at(bytes, position + 30)?
            + u16_at(bytes, position + 32)?;
        let name = slice(
            bytes,
            position + CENTRAL_HEADER_FIXED,
            position + CENTRAL_HEADER_FIXED + name_length,
        )?;
        headers.push(Header {
            position,
            size,
            offset: u32_at(bytes, position + 42)?,
            entry_size: 0,
            signature: name == SIGNATURE_FILE.as_bytes(),
        });
        position += size;
    }
    let Some(signature_index) = headers.iter().position(|header| header.signature) else {
        return Ok(plain());
    };
    // Entry sizes: up to the next entry in offset order, the last up to the directory.
    let mut by_offset: Vec<usize> = (0..headers.len()).collect();
    by_offset.sort_by_key(|&index| headers[index].offset);
    for pair in by_offset.windows(2) {
        headers[pair[0]].entry_size = headers[pair[1]]
            .offset
            .saturating_sub(headers[pair[0]].offset);
    }
    if let Some(&last) = by_offset.last() {
        headers[last].entry_size = directory_start.saturating_sub(headers[last].offset);
    }
    let start_of_entries = by_offset.first().map_or(0, |&index| headers[index].offset);
    let signature_size = headers[signature_index].size;
    let signature_entry_size = headers[signature_index].entry_size;

    let mut hasher = sha2::Sha512::new();
    hasher.update(slice(bytes, 0, start_of_entries)?);
    // The other entries in offset order, each moved to just after the previous one.
    let mut moved = vec![0_i64; headers.len()];
    let mut previous_end = 0_i64;
    for &index in by_offset.iter().filter(|&&index| index != signature_index) {
        let header = &headers[index];
        hasher.update(slice(
            bytes,
            header.offset,
            header.offset + header.entry_size,
        )?);
        let offset =
            i64::try_from(header.offset).map_err(|_| ContentHashError("offset too large"))?;
        let size =
            i64::try_from(header.entry_size).map_err(|_| ContentHashError("entry too large"))?;
        moved[index] = previous_end - offset;
        previous_end = offset + size + moved[index];
    }
    // The other central directory headers in directory order, offsets updated.
    for (index, header) in headers.iter().enumerate() {
        if index == signature_index {
            continue;
        }
        hasher.update(slice(bytes, header.position, header.position + 42)?);
        let offset =
            i64::try_from(header.offset).map_err(|_| ContentHashError("offset too large"))?;
        let updated = usize::try_from(offset + moved[index])
            .map_err(|_| ContentHashError("negative offset"))?;
        hasher.update(truncate_u32(updated));
        hasher.update(slice(
            bytes,
            header.position + 46,
            header.position + header.size,
        )?);
    }
    hasher.update(slice(bytes, eocd, eocd + 8)?);
    for at in [eocd + 8, eocd + 10] {
        let count = u16_at(bytes, at)?.saturating_sub(1);
        #[expect(clippy::cast_possible_truncation, reason = "read from a u16")]
        hasher.update((count as u16).to_le_bytes());
    }
    hasher.update(truncate_u32(directory_size.saturating_sub(signature_size)));
    hasher.update(truncate_u32(
        directory_start.saturating_sub(signature_entry_size),
    ));
    hasher.update(slice(bytes, eocd + 20, bytes.len())?);
    Ok(Digest {
        algorithm: Algorithm::Sha512,
        bytes: hasher.finalize().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])], comment: &str) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::from_date_and_time(2024, 1, 2, 3, 4, 6).unwrap());
        for (name, content) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.set_comment(comment);
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn unsigned_packages_hash_as_their_bytes() {
        let package = zip_of(&[("a.nuspec", b"<package/>"), ("lib/a.dll", b"MZ")], "");
        assert_eq!(
            content_hash(&package).unwrap(),
            Digest::of(Algorithm::Sha512, &package)
        );
        // Not a zip at all: the plain hash (the archive is rejected later, when extracted).
        assert_eq!(
            content_hash(b"junk").unwrap(),
            Digest::of(Algorithm::Sha512, b"junk")
        );
    }

    #[test]
    fn a_signature_appended_last_leaves_the_hash_of_the_unsigned_package() {
        let files: [(&str, &[u8]); 3] = [
            (
                "Demo.nuspec",
                b"<package><metadata><id>Demo</id></metadata></package>",
            ),
            ("lib/net8.0/Demo.dll", &[7; 300]),
            ("[Content_Types].xml", b"<Types/>"),
        ];
        let unsigned = zip_of(&files, "a comment");
        let mut with_signature = files.to_vec();
        with_signature.push((SIGNATURE_FILE, &[0x30, 0x82, 1, 2, 3, 4, 5]));
        let signed = zip_of(&with_signature, "a comment");
        assert_ne!(signed, unsigned);
        // As NuGet signs: the signature is the last entry, so the other entries keep their
        // bytes and offsets, and the hash is the unsigned package's.
        assert_eq!(
            content_hash(&signed).unwrap(),
            Digest::of(Algorithm::Sha512, &unsigned)
        );
    }

    #[test]
    fn a_signature_in_the_middle_moves_the_later_entries_back() {
        let before: (&str, &[u8]) = ("a.txt", b"first");
        let after: (&str, &[u8]) = ("b.txt", b"second entry");
        let unsigned = zip_of(&[before, after], "");
        let signed = zip_of(&[before, (SIGNATURE_FILE, b"signature bytes"), after], "");
        assert_eq!(
            content_hash(&signed).unwrap(),
            Digest::of(Algorithm::Sha512, &unsigned)
        );
    }
}
