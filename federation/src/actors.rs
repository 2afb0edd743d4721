//! Actors: a local account as an ActivityPub `Person` at `{base}/users/{username}`, and the same
//! URL as a page for people.
//!
//! Only active accounts are actors. Pending, suspended, rejected and unknown ones answer 404
//! alike: a suspension can be lifted, and 410 Gone would tell peers to forget the account for good.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use peerpx_projections::accounts::AccountRow;
use serde_json::{json, Value};

use crate::html;
use crate::ld::{self, actor_url, profile_url};
use crate::local::active_account;
use crate::{Federation, FederationConfig, Result};
use peerpx_aggregates::text::{escape_html, iso, note_html};

/// An image of the blob store as an ActivityStreams `Image`.
fn image(config: &FederationConfig, image: &peerpx_aggregates::account::ImageRef) -> Value {
    json!({
        "type": "Image",
        "mediaType": image.content_type,
        "url": ld::image_url(config, image),
    })
}

/// The account as an actor document (without `@context`; see [`ld::with_context`]). Bots are
/// `Service`s, as on Mastodon.
pub fn person(config: &FederationConfig, a: &AccountRow) -> Value {
    let id = actor_url(config, &a.username);
    let fields: Vec<Value> = a
        .fields
        .iter()
        .map(|f| {
            json!({
                "type": "PropertyValue",
                "name": f.name,
                "value": escape_html(&f.value),
            })
        })
        .collect();
    let mut v = json!({
        "id": id,
        "type": if a.bot { "Service" } else { "Person" },
        "preferredUsername": a.username,
        "name": a.display_name,
        "summary": note_html(&a.note),
        "url": profile_url(config, &a.username),
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "followers": format!("{id}/followers"),
        "following": format!("{id}/following"),
        "endpoints": { "sharedInbox": format!("{}/inbox", config.base_url()) },
        "manuallyApprovesFollowers": a.locked,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
        "published": iso(a.created_at),
        "attachment": fields,
        "tag": [],
    });
    if let Some(public_pem) = &a.public_key_pem {
        v["publicKey"] = json!({
            "id": format!("{id}#main-key"),
            "owner": id,
            "publicKeyPem": public_pem,
        });
    }
    if let Some(avatar) = &a.avatar {
        v["icon"] = image(config, avatar);
    }
    if let Some(header) = &a.header {
        v["image"] = image(config, header);
    }
    v
}

/// `GET /users/{username}`: the actor to ActivityPub clients, the profile page to anyone else.
pub async fn actor(
    State(state): State<Federation>,
    Path(username): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let account = active_account(&state, &username).await?;
    if ld::wants_activity_json(&headers) {
        let document = ld::with_context(&state.config, person(&state.config, &account));
        Ok(ld::activity_response(document))
    } else {
        Ok(html::profile(&state.config, &account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ld::test_config;
    use crate::local::fixtures::ana;

    #[test]
    fn a_person_carries_its_urls_key_and_profile_but_never_its_private_key() {
        let config = test_config();
        let v = ld::with_context(&config, person(&config, &ana()));
        let id = "https://photos.example/users/Ana";
        assert_eq!(v["id"], id);
        assert_eq!(v["type"], "Person");
        assert_eq!(v["preferredUsername"], "Ana");
        assert_eq!(v["name"], "Ana <Lens>");
        assert_eq!(v["summary"], "<p>Street</p><p>photos &amp; more</p>");
        assert_eq!(v["url"], "https://photos.example/@Ana");
        assert_eq!(v["inbox"], format!("{id}/inbox"));
        assert_eq!(v["outbox"], format!("{id}/outbox"));
        assert_eq!(v["followers"], format!("{id}/followers"));
        assert_eq!(v["following"], format!("{id}/following"));
        assert_eq!(
            v["endpoints"]["sharedInbox"],
            "https://photos.example/inbox"
        );
        assert_eq!(v["publicKey"]["id"], format!("{id}#main-key"));
        assert_eq!(v["publicKey"]["owner"], id);
        assert_eq!(v["manuallyApprovesFollowers"], true);
        assert_eq!(v["discoverable"], true);
        assert_eq!(v["published"], "2023-11-14T22:13:20.000Z");
        assert_eq!(
            v["attachment"],
            json!([{"type": "PropertyValue", "name": "Site", "value": "&lt;b&gt;x&lt;/b&gt;"}])
        );
        assert_eq!(v["icon"]["mediaType"], "image/png");
        assert!(v["icon"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://photos.example/system/media/abc.")));
        assert!(v.get("image").is_none());
        assert_eq!(v["@context"][0], ld::ACTIVITY_STREAMS);
        assert!(!v.to_string().contains("secret"));
    }

    #[test]
    fn a_bot_is_a_service_and_an_account_without_a_key_has_no_public_key() {
        let config = test_config();
        let mut bot = ana();
        bot.bot = true;
        bot.public_key_pem = None;
        let v = person(&config, &bot);
        assert_eq!(v["type"], "Service");
        assert!(v.get("publicKey").is_none());
    }
}
