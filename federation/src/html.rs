//! Minimal HTML pages for people who open an actor's or a post's URL in a browser, and the
//! `/@{username}` profile page the actor links to.
//!
//! Placeholders until the web UI serves these routes (it already serves `/@{username}/{id}`, the
//! `url` of a Note): each page is one function, so it can be replaced on its own. Every text that comes from a user is escaped; a caption's HTML is the one
//! the node rendered itself from plain text (`statuses::text_html`), which escapes it.

use axum::http::header::{CONTENT_TYPE, VARY};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use peerpx_projections::accounts::AccountRow;
use peerpx_projections::media::MediaRow;
use peerpx_projections::statuses::StatusRow;

use crate::ld::{actor_url, image_url, profile_url, status_url, ACTIVITY_JSON};
use crate::{Federation, FederationConfig, Result};
use peerpx_aggregates::text::{escape_html, iso, note_html};

fn document(title: &str, alternate: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"alternate\" type=\"{ACTIVITY_JSON}\" href=\"{}\">\n\
         </head>\n<body>\n{body}\n</body>\n</html>\n",
        escape_html(title),
        escape_html(alternate),
    )
}

fn avatar_url(config: &FederationConfig, a: &AccountRow) -> String {
    a.avatar.as_ref().map_or_else(
        || format!("{}/avatars/original/missing.png", config.base_url()),
        |img| image_url(config, img),
    )
}

fn shown_name(a: &AccountRow) -> &str {
    if a.display_name.trim().is_empty() {
        &a.username
    } else {
        &a.display_name
    }
}

/// The profile page: avatar, name, handle, bio, a link to `/@username`.
pub fn profile_page(config: &FederationConfig, a: &AccountRow) -> String {
    let handle = format!("@{}@{}", a.username, config.domain);
    let name = shown_name(a);
    let body = format!(
        "<main class=\"profile\">\n<img src=\"{}\" alt=\"\" width=\"120\" height=\"120\">\n\
         <h1>{}</h1>\n<p><a href=\"{}\">{}</a></p>\n<div class=\"bio\">{}</div>\n</main>",
        escape_html(&avatar_url(config, a)),
        escape_html(name),
        escape_html(&profile_url(config, &a.username)),
        escape_html(&handle),
        note_html(&a.note),
    );
    document(
        &format!("{name} ({handle})"),
        &actor_url(config, &a.username),
        &body,
    )
}

/// A post's page: its author, title, photos with their alt text, caption and date.
pub fn status_page(
    config: &FederationConfig,
    author: &AccountRow,
    s: &StatusRow,
    media: &[MediaRow],
) -> String {
    let base = config.base_url();
    let photos: String = media
        .iter()
        .map(|m| {
            format!(
                "<img src=\"{}\" alt=\"{}\" width=\"{}\" height=\"{}\">\n",
                escape_html(&format!("{base}/ipfs/{}", m.large.cid)),
                escape_html(m.description.as_deref().unwrap_or_default()),
                m.large.width,
                m.large.height,
            )
        })
        .collect();
    let title = s.title.as_deref().unwrap_or_default();
    let heading = if title.is_empty() {
        String::new()
    } else {
        format!("<h1>{}</h1>\n", escape_html(title))
    };
    let warning = if s.spoiler_text.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"warning\">{}</p>\n",
            escape_html(&s.spoiler_text)
        )
    };
    let body = format!(
        "<article class=\"status\">\n<p><a href=\"{}\">{}</a></p>\n{heading}{warning}{photos}\
         <div class=\"caption\">{}</div>\n<p><time datetime=\"{}\">{}</time></p>\n</article>",
        escape_html(&profile_url(config, &author.username)),
        escape_html(shown_name(author)),
        s.content,
        iso(s.created_at),
        iso(s.created_at),
    );
    let page_title = if title.is_empty() {
        format!(
            "{} (@{}@{})",
            shown_name(author),
            author.username,
            config.domain
        )
    } else {
        title.to_string()
    };
    document(
        &page_title,
        &status_url(config, &author.username, s.id),
        &body,
    )
}

/// An HTML page; the URLs that serve it also serve JSON-LD, hence `Vary: Accept`.
pub fn page_response(html: String) -> Response {
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(VARY, HeaderValue::from_static("Accept"));
    response
}

/// The profile page as a response.
pub fn profile(config: &FederationConfig, a: &AccountRow) -> Response {
    page_response(profile_page(config, a))
}

/// A post's page as a response.
pub async fn status(state: &Federation, author: &AccountRow, s: &StatusRow) -> Result<Response> {
    let media = peerpx_projections::media::for_statuses(&state.db, &[s.id])
        .await?
        .remove(&s.id)
        .unwrap_or_default();
    Ok(page_response(status_page(&state.config, author, s, &media)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ld::test_config;
    use crate::local::fixtures::ana;

    #[test]
    fn the_profile_page_escapes_what_people_wrote() {
        let config = test_config();
        let mut a = ana();
        a.note = "<script>alert(1)</script>".into();
        let page = profile_page(&config, &a);
        assert!(page.contains("<h1>Ana &lt;Lens&gt;</h1>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("href=\"https://photos.example/@Ana\""));
        assert!(page.contains("@Ana@photos.example"));
        assert!(page.contains(
            "<link rel=\"alternate\" type=\"application/activity+json\" \
             href=\"https://photos.example/users/Ana\">"
        ));
    }
}
