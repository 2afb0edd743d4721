//! A person blocks an account of another node: the follows between them end on both nodes (the
//! other node gets a `Block`, then an `Undo` of it), and after unblocking they can follow again.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, expect_json, follow_across, json_of, Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(a_block_ends_the_follows_on_both_nodes_and_an_unblock_allows_them_again);

const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn relationship(node: &TestNode, token: &str, id: &str) -> Value {
    let path = format!("/api/v1/accounts/relationships?id[]={id}");
    json_of(node, &path, token).await[0].clone()
}

async fn a_block_ends_the_follows_on_both_nodes_and_an_unblock_allows_them_again(engine: Engine) {
    let Some(a) = TestNode::start_federated(engine).await else {
        return;
    };
    let Some(b) = TestNode::start_federated(engine).await else {
        return;
    };
    let (_, ana) = a.user("ana").await;
    let (ben_id, ben) = b.user("ben").await;
    let ben_on_a = follow_across(&a, &ana, &b, "ben").await;
    let ana_on_b = follow_across(&b, &ben, &a, "ana").await;

    let r = a
        .post_form(
            &format!("/api/v1/accounts/{ben_on_a}/block"),
            Some(&ana),
            &[],
        )
        .await;
    let rel = expect_json(r, StatusCode::OK).await;
    assert_eq!(
        (&rel["blocking"], &rel["following"], &rel["followed_by"]),
        (&json!(true), &json!(false), &json!(false)),
        "{rel}"
    );
    // On B, the Block (and the Undo of Ana's follow) ended both follows.
    eventually(WAIT, "both follows gone on B", || async {
        let rel = relationship(&b, &ben, &ana_on_b).await;
        (rel["following"] == false && rel["followed_by"] == false).then_some(())
    })
    .await;
    let followers = json_of(&b, &format!("/api/v1/accounts/{ben_id}/followers"), &ben).await;
    assert_eq!(followers, json!([]), "Ana is no longer Ben's follower on B");
    let me = json_of(&b, "/api/v1/accounts/verify_credentials", &ben).await;
    assert_eq!(
        (&me["followers_count"], &me["following_count"]),
        (&json!(0), &json!(0)),
        "{me}"
    );

    // Unblocked, Ana can follow Ben again and B accepts.
    let r = a
        .post_form(
            &format!("/api/v1/accounts/{ben_on_a}/unblock"),
            Some(&ana),
            &[],
        )
        .await;
    let rel = expect_json(r, StatusCode::OK).await;
    assert_eq!(rel["blocking"], false, "{rel}");
    assert_eq!(follow_across(&a, &ana, &b, "ben").await, ben_on_a);
    let rel = relationship(&b, &ben, &ana_on_b).await;
    assert_eq!(rel["followed_by"], true, "{rel}");
}
