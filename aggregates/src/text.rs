//! Pure text rules both HTTP edges render with: HTML escaping, a plain-text bio as Mastodon's
//! HTML, another server's HTML back to plain text, and timestamps in ISO 8601.
//!
//! They read no clock: a timestamp is the caller's.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn iso(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A plain-text bio as Mastodon's HTML: paragraphs on blank lines, `<br>` on single ones.
pub fn note_html(note: &str) -> String {
    if note.trim().is_empty() {
        return String::new();
    }
    note.split("\n\n")
        .map(|p| format!("<p>{}</p>", escape_html(p.trim()).replace('\n', "<br />")))
        .collect()
}

/// HTML from another server as plain text: tags dropped, paragraphs and line breaks kept, the
/// common entities decoded. (Remote notes are shown through [`note_html`], which escapes
/// everything again: no remote markup reaches a client.)
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end].trim().to_ascii_lowercase();
        if tag.starts_with("br") {
            out.push('\n');
        } else if tag == "/p" {
            out.push_str("\n\n");
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_bios_become_paragraphs() {
        assert_eq!(
            escape_html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            note_html("Street\n\nphotos\n& more"),
            "<p>Street</p><p>photos<br />&amp; more</p>"
        );
        assert_eq!(note_html("  "), "");
        assert_eq!(
            plain_text("<p>Hi &amp; bye</p><p>x<br>y</p>"),
            "Hi & bye\n\nx\ny"
        );
        assert_eq!(iso(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
    }
}
