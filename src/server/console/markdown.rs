//! Readmes rendered safely: markdown to HTML with every raw HTML event turned into text and
//! every link or image whose URL is not `http:`, `https:`, `mailto:` or relative dropped.
//!
//! Readmes are untrusted input (anyone who may publish, or any upstream registry, writes
//! them). pulldown-cmark escapes text and attribute values itself; what it passes through
//! verbatim is raw HTML (`Event::Html`, `Event::InlineHtml`), which is rewritten here as
//! text, so `<script>` shows as `<script>`. Link destinations are the other way in
//! (`[x](javascript:alert(1))`): a destination with any other scheme becomes plain text. The
//! console's Content-Security-Policy (no script at all) is the second line of defence.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Whether `url` may be a link or image destination: relative, a fragment, or one of the
/// schemes `http`, `https`, `mailto`. Control characters and whitespace inside the scheme
/// (`java\tscript:`), which browsers ignore, are ignored here too before deciding.
#[must_use]
pub fn safe_url(url: &str) -> bool {
    let cleaned: String = url
        .chars()
        .filter(|character| !character.is_control() && !character.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme_end = cleaned.find(':');
    let path_start = cleaned.find(['/', '?', '#']);
    match (scheme_end, path_start) {
        (None, _) => true,
        (Some(colon), Some(slash)) if slash < colon => true,
        (Some(colon), _) => matches!(&cleaned[..colon], "http" | "https" | "mailto"),
    }
}

/// The readme `markdown` as HTML safe to insert into a page.
#[must_use]
pub fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // Links and images with an unsafe destination are dropped (their text stays); their end
    // events must be dropped with them, so the nesting of what was dropped is tracked.
    let mut dropped: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
        Event::Start(Tag::Link { ref dest_url, .. } | Tag::Image { ref dest_url, .. }) => {
            let unsafe_url = !safe_url(dest_url);
            dropped.push(unsafe_url);
            (!unsafe_url).then_some(event)
        }
        Event::End(TagEnd::Link | TagEnd::Image) => {
            let was_dropped = dropped.pop().unwrap_or(false);
            (!was_dropped).then_some(event)
        }
        Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => None,
        other => Some(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_becomes_text_and_unsafe_links_are_dropped() {
        let html = render(
            "# Title\n\n<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)> \
             [click](javascript:alert(1)) [ok](https://example.com/a) \
             [tab](java\tscript:alert(1)) ![i](data:text/html;base64,AA) <a href=\"javascript:x\">a</a>\n\n\
             <div><b>broken",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<a href=\"javascript"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://example.com/a\">ok</a>"),
            "{html}"
        );
        assert!(html.contains("click"), "{html}");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
    }

    #[test]
    fn only_web_and_mail_schemes_are_safe() {
        for url in [
            "https://a",
            "http://a",
            "mailto:a@b",
            "/x:y",
            "#top",
            "docs/a.md",
            "?a=b:c",
        ] {
            assert!(safe_url(url), "{url}");
        }
        for url in [
            "javascript:x",
            "JavaScript:x",
            " javascript:x",
            "java\nscript:x",
            "data:x",
            "vbscript:x",
            "file:///etc",
        ] {
            assert!(!safe_url(url), "{url}");
        }
    }
}
