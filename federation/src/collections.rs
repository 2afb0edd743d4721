//! An actor's outbox, followers and following as `OrderedCollection`s: the collection gives
//! `totalItems` and links to its `first` page; pages (`?page=true`, then `max_id` / `min_id`
//! from `next` / `prev`) are `OrderedCollectionPage`s, newest first, as on Mastodon.
//!
//! The outbox lists the `Create` of each public and unlisted status (what an anonymous viewer
//! may see); followers and following list actor ids, local and remote.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use peerpx_projections::accounts::{self, AccountRow};
use peerpx_projections::statuses::{self as read, AccountFilter};
use peerpx_projections::{relationships, Page};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ld::{self, actor_url};
use crate::local::active_account;
use crate::objects;
use crate::{Error, Federation, FederationConfig, Result};

/// Items per page.
pub const PAGE_SIZE: i64 = 20;

/// `?page=true&max_id=…&min_id=…`
#[derive(Debug, Default, Deserialize)]
pub struct CollectionQuery {
    page: Option<String>,
    max_id: Option<String>,
    min_id: Option<String>,
}

impl CollectionQuery {
    /// The page asked for, or `None` for the collection itself.
    pub fn page(&self) -> Result<Option<Page>> {
        let wants_page = self.page.as_deref().is_some_and(|p| p != "false")
            || self.max_id.is_some()
            || self.min_id.is_some();
        if !wants_page {
            return Ok(None);
        }
        let id = |name: &str, value: &Option<String>| -> Result<Option<i64>> {
            value
                .as_deref()
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| Error::BadRequest(format!("{name} must be a number")))
                })
                .transpose()
        };
        Ok(Some(Page {
            max_id: id("max_id", &self.max_id)?,
            since_id: None,
            min_id: id("min_id", &self.min_id)?,
            limit: PAGE_SIZE,
        }))
    }
}

/// The collection itself.
pub fn collection(id: &str, total: i64) -> Value {
    json!({
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total,
        "first": format!("{id}?page=true"),
        "last": format!("{id}?min_id=0&page=true"),
    })
}

/// One page of `collection`: `items` newest first, `keys` their paging keys in the same order.
pub fn page(collection: &str, asked: &Page, total: i64, items: Vec<Value>, keys: &[i64]) -> Value {
    let mut id = format!("{collection}?page=true");
    if let Some(max) = asked.max_id {
        id.push_str(&format!("&max_id={max}"));
    }
    if let Some(min) = asked.min_id {
        id.push_str(&format!("&min_id={min}"));
    }
    let mut v = json!({
        "id": id,
        "type": "OrderedCollectionPage",
        "partOf": collection,
        "totalItems": total,
        "orderedItems": items,
    });
    if let Some(newest) = keys.first() {
        v["prev"] = json!(format!("{collection}?min_id={newest}&page=true"));
    }
    if let (true, Some(oldest)) = (keys.len() as i64 >= asked.limit, keys.last()) {
        v["next"] = json!(format!("{collection}?max_id={oldest}&page=true"));
    }
    v
}

fn respond(config: &FederationConfig, document: Value) -> Response {
    ld::activity_response(ld::with_context(config, document))
}

/// `GET /users/{username}/outbox`
pub async fn outbox(
    State(state): State<Federation>,
    Path(username): Path<String>,
    Query(query): Query<CollectionQuery>,
) -> Result<Response> {
    let account = active_account(&state, &username).await?;
    let id = format!("{}/outbox", actor_url(&state.config, &account.username));
    // Mastodon counts every status but direct messages here, though the pages list only the
    // public and unlisted ones.
    let total = account.stats.statuses_count;
    let Some(asked) = query.page()? else {
        return Ok(respond(&state.config, collection(&id, total)));
    };
    let rows = read::of_account(
        &state.db,
        None,
        &account.id,
        AccountFilter::default(),
        asked,
    )
    .await?;
    let keys: Vec<i64> = rows.iter().map(|s| s.id).collect();
    // The account's notes as Creates, its reblogs as Announces, in the order of the page.
    let own: Vec<read::StatusRow> = rows
        .iter()
        .filter(|s| s.reblog_of_id.is_none())
        .cloned()
        .collect();
    let mut creates = objects::notes(&state, &account, &own)
        .await?
        .into_iter()
        .map(|n| objects::create(&n));
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        match row.reblog_of_id {
            None => items.extend(creates.next()),
            Some(of) => {
                if let Some(original) = read::visible_by_id(&state.db, None, of).await? {
                    let announce =
                        crate::objects::announce(&state, &account, row.into(), &original).await?;
                    items.extend(announce.map(|mut a| {
                        if let Some(o) = a.as_object_mut() {
                            o.remove("@context");
                        }
                        a
                    }));
                }
            }
        }
    }
    Ok(respond(
        &state.config,
        page(&id, &asked, total, items, &keys),
    ))
}

/// Which side of the follows an actor collection lists.
#[derive(Clone, Copy)]
enum Side {
    Followers,
    Following,
}

async fn graph(
    state: &Federation,
    username: &str,
    query: &CollectionQuery,
    side: Side,
) -> Result<Response> {
    let account: AccountRow = active_account(state, username).await?;
    let actor = actor_url(&state.config, &account.username);
    let (id, total) = match side {
        Side::Followers => (format!("{actor}/followers"), account.stats.followers_count),
        Side::Following => (format!("{actor}/following"), account.stats.following_count),
    };
    let Some(asked) = query.page()? else {
        return Ok(respond(&state.config, collection(&id, total)));
    };
    let edges = match side {
        Side::Followers => relationships::followers(&state.db, &account.id, asked).await?,
        Side::Following => relationships::following(&state.db, &account.id, asked).await?,
    };
    let ids: Vec<String> = edges.iter().map(|(_, id)| id.clone()).collect();
    let actors: HashMap<String, String> = accounts::by_ids(&state.db, &ids)
        .await?
        .into_iter()
        .map(|a| {
            let uri = match a.remote {
                Some(r) => r.uri,
                None => actor_url(&state.config, &a.username),
            };
            (a.id, uri)
        })
        .collect();
    let mut items = Vec::new();
    let mut keys = Vec::new();
    for (position, other) in &edges {
        if let Some(uri) = actors.get(other) {
            items.push(json!(uri));
            keys.push(*position);
        }
    }
    Ok(respond(
        &state.config,
        page(&id, &asked, total, items, &keys),
    ))
}

/// `GET /users/{username}/followers`
pub async fn followers(
    State(state): State<Federation>,
    Path(username): Path<String>,
    Query(query): Query<CollectionQuery>,
) -> Result<Response> {
    graph(&state, &username, &query, Side::Followers).await
}

/// `GET /users/{username}/following`
pub async fn following(
    State(state): State<Federation>,
    Path(username): Path<String>,
    Query(query): Query<CollectionQuery>,
) -> Result<Response> {
    graph(&state, &username, &query, Side::Following).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTBOX: &str = "https://photos.example/users/ana/outbox";

    #[test]
    fn a_collection_links_its_first_and_last_pages() {
        let v = collection(OUTBOX, 3);
        assert_eq!(v["type"], "OrderedCollection");
        assert_eq!(v["totalItems"], 3);
        assert_eq!(v["first"], format!("{OUTBOX}?page=true"));
        assert_eq!(v["last"], format!("{OUTBOX}?min_id=0&page=true"));
    }

    #[test]
    fn a_full_page_links_onwards_and_back_and_a_short_one_only_back() {
        let asked = Page::first(2);
        let v = page(OUTBOX, &asked, 5, vec![json!("a"), json!("b")], &[9, 7]);
        assert_eq!(v["id"], format!("{OUTBOX}?page=true"));
        assert_eq!(v["type"], "OrderedCollectionPage");
        assert_eq!(v["partOf"], OUTBOX);
        assert_eq!(v["orderedItems"], json!(["a", "b"]));
        assert_eq!(v["next"], format!("{OUTBOX}?max_id=7&page=true"));
        assert_eq!(v["prev"], format!("{OUTBOX}?min_id=9&page=true"));
        let asked = Page {
            max_id: Some(7),
            ..Page::first(2)
        };
        let v = page(OUTBOX, &asked, 5, vec![json!("c")], &[3]);
        assert_eq!(v["id"], format!("{OUTBOX}?page=true&max_id=7"));
        assert!(v.get("next").is_none());
        let v = page(OUTBOX, &asked, 5, vec![], &[]);
        assert!(v.get("next").is_none() && v.get("prev").is_none());
    }

    #[test]
    fn page_parameters_are_numbers() {
        let q = |page: Option<&str>, max: Option<&str>| CollectionQuery {
            page: page.map(str::to_string),
            max_id: max.map(str::to_string),
            min_id: None,
        };
        assert_eq!(q(None, None).page().expect("ok"), None);
        assert_eq!(q(Some("false"), None).page().expect("ok"), None);
        assert_eq!(
            q(Some("true"), None).page().expect("ok"),
            Some(Page::first(PAGE_SIZE))
        );
        assert_eq!(
            q(None, Some("12"))
                .page()
                .expect("ok")
                .and_then(|p| p.max_id),
            Some(12)
        );
        assert!(matches!(
            q(Some("true"), Some("x")).page(),
            Err(Error::BadRequest(_))
        ));
    }
}
