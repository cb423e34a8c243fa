//! Event-level XML editing for `settings.xml` and `nuget.config`: quick-xml reads the file
//! into a tree of element *byte spans*, editors compute replacements and insertions on those
//! spans, and everything outside them (declaration, comments, attribute quoting, whitespace,
//! CRLF) passes through byte for byte.

use std::ops::Range;
use std::path::Path;

use quick_xml::events::Event;

use super::edit::{EditError, newline_of};

/// An element and where it sits in the text.
#[derive(Debug, Clone)]
pub struct Element {
    /// Qualified name as written.
    pub name: String,
    /// Attributes, unescaped.
    pub attributes: Vec<(String, String)>,
    /// Span of the whole element, start tag to end tag.
    pub span: Range<usize>,
    /// Span of the start tag (the whole element for `<x/>`).
    pub start_tag: Range<usize>,
    /// Offset of the end tag (`</x>`); `None` for an empty element.
    pub end_tag_start: Option<usize>,
    /// Child elements.
    pub children: Vec<Element>,
    /// Direct text content, unescaped and trimmed.
    pub text: String,
}

impl Element {
    /// The first child with this local name.
    #[must_use]
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|child| local(&child.name) == name)
    }

    /// An attribute's value (case-sensitive name).
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Text of the child element `name`, if any.
    #[must_use]
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|child| child.text.as_str())
    }
}

/// The local part of a qualified name.
#[must_use]
pub fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Parse `text` into its root element.
///
/// # Errors
/// [`EditError`] at the line of the first syntax error, or when there is no root element.
pub fn parse(path: &Path, text: &str) -> Result<Option<Element>, EditError> {
    // quick-xml skips a leading BOM and counts positions after it; the spans here index
    // `text` itself (a Windows-written settings.xml often starts with one), so the reader
    // gets the text past the BOM and every position is moved by its length.
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let mut reader = quick_xml::Reader::from_str(&text[bom..]);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut before = bom;
    loop {
        let event = reader.read_event().map_err(|error| {
            EditError::at(
                path,
                text,
                bom + usize::try_from(reader.error_position()).unwrap_or(0),
                format!("malformed XML: {error}"),
            )
        })?;
        let after =
            usize::try_from(reader.buffer_position()).map_or(text.len(), |position| bom + position);
        let attributes = |start: &quick_xml::events::BytesStart<'_>| {
            let mut out = Vec::new();
            for attribute in start.attributes() {
                let attribute = attribute.map_err(|error| {
                    EditError::at(path, text, before, format!("malformed attribute: {error}"))
                })?;
                let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
                let value = attribute
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|error| {
                        EditError::at(path, text, before, format!("malformed attribute: {error}"))
                    })?
                    .into_owned();
                out.push((key, value));
            }
            Ok::<_, EditError>(out)
        };
        match event {
            Event::Start(start) => {
                if root.is_some() && stack.is_empty() {
                    return Err(EditError::at(path, text, before, "a second root element"));
                }
                stack.push(Element {
                    name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
                    attributes: attributes(&start)?,
                    span: before..after,
                    start_tag: before..after,
                    end_tag_start: None,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::Empty(start) => {
                let element = Element {
                    name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
                    attributes: attributes(&start)?,
                    span: before..after,
                    start_tag: before..after,
                    end_tag_start: None,
                    children: Vec::new(),
                    text: String::new(),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(EditError::at(path, text, before, "a second root element")),
                }
            }
            Event::End(_) => {
                let Some(mut element) = stack.pop() else {
                    return Err(EditError::at(
                        path,
                        text,
                        before,
                        "an end tag without a start tag",
                    ));
                };
                element.end_tag_start = Some(before);
                element.span = element.span.start..after;
                element.text = String::from(element.text.trim());
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(content) => {
                if let Some(parent) = stack.last_mut() {
                    let raw = String::from_utf8_lossy(content.as_ref()).into_owned();
                    parent.text.push_str(&raw);
                } else if !String::from_utf8_lossy(content.as_ref()).trim().is_empty() {
                    return Err(EditError::at(
                        path,
                        text,
                        before,
                        "text outside the root element",
                    ));
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(parent) = stack.last_mut() {
                    let name = String::from_utf8_lossy(reference.as_ref()).into_owned();
                    let decoded = quick_xml::escape::unescape(&format!("&{name};"))
                        .map_or_else(|_| format!("&{name};"), std::borrow::Cow::into_owned);
                    parent.text.push_str(&decoded);
                }
            }
            Event::CData(content) => {
                if let Some(parent) = stack.last_mut() {
                    parent
                        .text
                        .push_str(&String::from_utf8_lossy(content.as_ref()));
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        before = after;
    }
    if let Some(open) = stack.first() {
        return Err(EditError::at(
            path,
            text,
            open.span.start,
            format!("`<{}>` is never closed", open.name),
        ));
    }
    Ok(root)
}

/// Escape text for an attribute value or element content.
#[must_use]
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// Layout facts of a document: its newline and indent unit.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `\n` or `\r\n`.
    pub newline: &'static str,
    /// One level of indentation.
    pub unit: String,
}

impl Layout {
    /// Guess from the text: the first indented line's leading whitespace, else two spaces.
    #[must_use]
    pub fn of(text: &str) -> Self {
        let unit = text
            .lines()
            .skip(1)
            .map(|line| {
                let trimmed = line.trim_start_matches([' ', '\t']);
                &line[..line.len() - trimmed.len()]
            })
            .find(|indent| !indent.is_empty() && indent.len() <= 8)
            .unwrap_or("  ")
            .to_owned();
        Self {
            newline: newline_of(text),
            unit,
        }
    }

    /// Indentation of the line holding `offset`, when only whitespace precedes it there.
    #[must_use]
    pub fn indent_at(text: &str, offset: usize) -> String {
        let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
        let before = &text[line_start..offset];
        if before
            .chars()
            .all(|character| character == ' ' || character == '\t')
        {
            before.to_owned()
        } else {
            String::new()
        }
    }

    /// Re-indent a fragment written with `\n` and two-space levels for this layout, at `base`.
    #[must_use]
    pub fn render(&self, fragment: &str, base: &str) -> String {
        fragment
            .lines()
            .enumerate()
            .map(|(index, line)| {
                let trimmed = line.trim_start_matches(' ');
                let depth = (line.len() - trimmed.len()) / 2;
                let prefix = if index == 0 {
                    String::new()
                } else {
                    format!("{base}{}", self.unit.repeat(depth))
                };
                format!("{prefix}{trimmed}")
            })
            .collect::<Vec<_>>()
            .join(self.newline)
    }
}

/// A replacement of a byte range.
pub type Replacement = (Range<usize>, String);

/// Insert `fragment` (two-space indented, `\n` lines) as the last child of `parent`.
#[must_use]
pub fn append_child(text: &str, layout: &Layout, parent: &Element, fragment: &str) -> Replacement {
    let parent_indent = Layout::indent_at(text, parent.span.start);
    let child_indent = parent.children.first().map_or_else(
        || format!("{parent_indent}{}", layout.unit),
        |child| {
            let indent = Layout::indent_at(text, child.span.start);
            if indent.is_empty() {
                format!("{parent_indent}{}", layout.unit)
            } else {
                indent
            }
        },
    );
    let rendered = layout.render(fragment, &child_indent);
    let newline = layout.newline;
    match parent.end_tag_start {
        None => {
            // `<parent/>`: open it up.
            let tag = &text[parent.start_tag.clone()];
            let open = tag
                .trim_end_matches('>')
                .trim_end_matches('/')
                .trim_end()
                .to_owned();
            (
                parent.span.clone(),
                format!(
                    "{open}>{newline}{child_indent}{rendered}{newline}{parent_indent}</{}>",
                    parent.name
                ),
            )
        }
        Some(end_tag) => {
            let anchor = parent
                .children
                .last()
                .map_or(parent.start_tag.end, |child| child.span.end);
            let between = &text[anchor..end_tag];
            if between.trim().is_empty() && !between.contains('\n') {
                // `<parent></parent>` or `<parent>  </parent>` on one line.
                (
                    anchor..end_tag,
                    format!("{newline}{child_indent}{rendered}{newline}{parent_indent}"),
                )
            } else {
                (anchor..anchor, format!("{newline}{child_indent}{rendered}"))
            }
        }
    }
}

/// Replace an element with a fragment, keeping its indentation.
#[must_use]
pub fn replace_element(
    text: &str,
    layout: &Layout,
    element: &Element,
    fragment: &str,
) -> Replacement {
    let indent = Layout::indent_at(text, element.span.start);
    (element.span.clone(), layout.render(fragment, &indent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_elements_and_errors_name_the_line() {
        let text = "<?xml version=\"1.0\"?>\n<a x=\"1 &amp; 2\">\n  <!-- c -->\n  <b>t&lt;</b>\n  <c/>\n</a>\n";
        let root = parse(Path::new("f.xml"), text).unwrap().unwrap();
        assert_eq!(root.attribute("x"), Some("1 & 2"));
        assert_eq!(&text[root.children[0].span.clone()], "<b>t&lt;</b>");
        assert_eq!(root.child_text("b"), Some("t<"));
        assert_eq!(&text[root.children[1].span.clone()], "<c/>");
        let error = parse(Path::new("f.xml"), "<a>\n  <b>\n</a>\n").unwrap_err();
        assert_eq!(error.line, 3, "{error}");
        let error = parse(Path::new("f.xml"), "<a>\n  <b>\n").unwrap_err();
        assert!(error.line >= 1, "{error}");
    }

    #[test]
    fn append_child_opens_empty_elements_and_follows_indentation() {
        let layout = Layout::of("<a>\n    <b/>\n</a>\n");
        let text = "<a>\n    <b/>\n</a>\n";
        let root = parse(Path::new("f"), text).unwrap().unwrap();
        let (range, new) = append_child(text, &layout, &root.children[0], "<c>\n  <d/>\n</c>");
        let out = super::super::edit::splice(text, vec![(range, new)]);
        assert_eq!(
            out,
            "<a>\n    <b>\n        <c>\n            <d/>\n        </c>\n    </b>\n</a>\n"
        );
    }
}
