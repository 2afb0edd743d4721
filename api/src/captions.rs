//! A caption's HTML, as Mastodon writes it: paragraphs and line breaks, links for URLs, hashtags
//! and the mentions that name known accounts; everything else escaped.

use peerpx_aggregates::status::Mention;

use crate::entities::escape_html;

/// The caption as HTML: paragraphs, line breaks, links for URLs, hashtags and known mentions.
pub fn text_html(base: &str, text: &str, mentions: &[Mention]) -> String {
    let paragraphs: Vec<String> = text
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(|l| linkify(base, l, mentions)).collect();
            format!("<p>{}</p>", lines.join("<br />"))
        })
        .collect();
    paragraphs.concat()
}

fn linkify(base: &str, line: &str, mentions: &[Mention]) -> String {
    let mut out = String::new();
    let mut rest = line;
    let mut previous: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        let boundary = !previous.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '/');
        if boundary && (rest.starts_with("https://") || rest.starts_with("http://")) {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ')', '!', '?', ';', ':']);
            let url_end = url.len();
            out.push_str(&format!(
                "<a href=\"{0}\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">{0}</a>",
                escape_html(url)
            ));
            previous = url.chars().last();
            rest = &rest[url_end..];
            continue;
        }
        if boundary && (c == '#' || c == '@') {
            let word: String = rest[1..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                if c == '#' && word.chars().any(|c| !c.is_numeric()) {
                    let tag = word.to_lowercase();
                    out.push_str(&format!(
                        "<a href=\"{base}/tags/{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                        escape_html(&tag),
                        escape_html(&word)
                    ));
                    rest = &rest[1 + word.len()..];
                    previous = word.chars().last();
                    continue;
                }
                if c == '@' {
                    let after = &rest[1 + word.len()..];
                    let domain = after.strip_prefix('@').map(|d| {
                        let end = d
                            .find(|c: char| {
                                !(c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
                            })
                            .unwrap_or(d.len());
                        d[..end].trim_end_matches(['.', ':'])
                    });
                    // A local account by its name (a trailing @this.domain is swallowed too),
                    // a remote one by `name@domain`.
                    let found = mentions.iter().find(|m| match m.username.split_once('@') {
                        None => m.username.eq_ignore_ascii_case(&word),
                        Some((user, host)) => {
                            user.eq_ignore_ascii_case(&word)
                                && domain.is_some_and(|d| d.eq_ignore_ascii_case(host))
                        }
                    });
                    if let Some(m) = found {
                        let mut consumed = 1 + word.len();
                        if let Some(d) = domain {
                            consumed += 1 + d.len();
                        }
                        out.push_str(&format!(
                            "<span class=\"h-card\"><a href=\"{base}/@{0}\" class=\"u-url mention\">@<span>{1}</span></a></span>",
                            escape_html(&m.username),
                            escape_html(&word)
                        ));
                        previous = Some('x');
                        rest = &rest[consumed..];
                        continue;
                    }
                }
            }
        }
        out.push_str(&escape_html(&c.to_string()));
        previous = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_become_safe_html_with_links() {
        let mentions = vec![Mention {
            account_id: "1".into(),
            username: "ana".into(),
        }];
        let html = text_html(
            "https://px.example",
            "Dawn at #Paris with @ana <3\nhttps://example.org/a?b=1.\n\nsecond @nobody",
            &mentions,
        );
        assert_eq!(
            html,
            "<p>Dawn at <a href=\"https://px.example/tags/paris\" class=\"mention hashtag\" \
             rel=\"tag\">#<span>Paris</span></a> with <span class=\"h-card\"><a \
             href=\"https://px.example/@ana\" class=\"u-url mention\">@<span>ana</span></a>\
             </span> &lt;3<br /><a href=\"https://example.org/a?b=1\" rel=\"nofollow noopener \
             noreferrer\" target=\"_blank\">https://example.org/a?b=1</a>.</p><p>second \
             @nobody</p>"
        );
    }
}
