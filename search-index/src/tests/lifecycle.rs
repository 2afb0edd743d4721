use peerpx_aggregates::{AccountEvent, MediaEvent, RemoteAccountEvent};

use super::*;

#[test]
fn an_edit_replaces_the_document() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .post("101", "1", "old words")
        .edit("101", "1", "new words");
    let index = indexed(&s)?;
    assert_eq!(ids(&index, "old")?, Vec::<u64>::new());
    assert_eq!(ids(&index, "new words")?, [101]);
    assert_eq!(ids(&index, "words")?, [101], "one document, not two");
    Ok(())
}

#[test]
fn an_edit_committed_apart_from_its_post_reaches_the_index() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .upload("m1", "1", exif("Nikon", "Z6", "", ""))
        .photo_post("101", "1", "old words", &["m1"]);
    let mut index = indexed(&s)?;
    s.edit("101", "1", "new words");
    index.apply(&s.events)?;
    index.commit()?;
    assert_eq!(ids(&index, "old")?, Vec::<u64>::new());
    assert_eq!(ids(&index, "new camera:nikon")?, [101], "the photos stay");
    Ok(())
}

#[test]
fn a_deleted_status_is_gone() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .post("101", "1", "ephemeral")
        .post("102", "1", "ephemeral too");
    let mut index = indexed(&s)?;
    s.delete("101", "1");
    index.apply(&s.events)?;
    index.commit()?;
    assert_eq!(ids(&index, "ephemeral")?, [102]);
    Ok(())
}

#[test]
fn a_rename_updates_the_authors_statuses_committed_or_not() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .rename("alice", "Alice Dupont")
        .post("101", "1", "committed before the rename");
    let mut index = indexed(&s)?;
    s.post("102", "1", "in the same batch as the rename")
        .rename("alice", "Alice Lefèvre");
    index.apply(&s.events)?;
    index.commit()?;
    assert_eq!(ids(&index, "dupont")?, Vec::<u64>::new());
    assert_eq!(ids(&index, "lefevre")?, [102, 101]);
    Ok(())
}

#[test]
fn a_suspension_hides_an_authors_statuses_until_it_is_lifted() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .post("101", "1", "harbour")
        .account_event("alice", AccountEvent::AccountSuspended { at: 1 });
    let mut index = indexed(&s)?;
    assert_eq!(ids(&index, "harbour")?, Vec::<u64>::new());
    let snap = index.reader().snapshot();
    assert_eq!(
        snap.accounts("alice", &Window::first(5))?,
        Vec::<u64>::new()
    );
    s.account_event("alice", AccountEvent::AccountUnsuspended { at: 2 });
    index.apply(&s.events)?;
    index.commit()?;
    assert_eq!(ids(&index, "harbour")?, [101]);
    s.account_event("alice", AccountEvent::AccountSuspended { at: 3 })
        .account_event("alice", AccountEvent::AccountDeleted { at: 4 });
    index.apply(&s.events)?;
    index.commit()?;
    let left = index.reader().snapshot().export()?;
    assert!(
        left.is_empty(),
        "a deleted account leaves nothing: {left:?}"
    );
    Ok(())
}

#[test]
fn a_pending_account_is_found_once_approved() -> TestResult {
    let mut s = Story::default();
    s.account("bob", "1");
    if let DomainEvent::Account(AccountEvent::AccountRegistered(r)) = &mut s.events[0].event {
        r.approved = false;
    }
    let mut index = indexed(&s)?;
    let first = Window::first(5);
    assert!(index
        .reader()
        .snapshot()
        .accounts("bob", &first)?
        .is_empty());
    s.account_event("bob", AccountEvent::AccountApproved { at: 1 });
    index.apply(&s.events)?;
    index.commit()?;
    assert_eq!(index.reader().snapshot().accounts("bob", &first)?, [1]);
    Ok(())
}

#[test]
fn a_remote_actor_deleting_itself_takes_its_statuses_along() -> TestResult {
    let mut s = Story::default();
    s.remote_account("bob", "pix.example", "2").remote_post(
        "104",
        "2",
        "pix.example",
        "tram",
        Vec::new(),
    );
    let mut index = indexed(&s)?;
    assert_eq!(ids(&index, "tram")?, [104]);
    let uri = "https://pix.example/users/bob";
    s.remote_event(uri, RemoteAccountEvent::RemoteAccountDeleted { at: 1 });
    index.apply(&s.events)?;
    index.commit()?;
    assert_eq!(ids(&index, "tram")?, Vec::<u64>::new());
    assert!(index
        .reader()
        .snapshot()
        .accounts("bob", &Window::first(5))?
        .is_empty());
    Ok(())
}

#[test]
fn a_remote_refresh_renames_the_author_of_its_statuses() -> TestResult {
    let mut s = Story::default();
    s.remote_account("bob", "pix.example", "2").remote_post(
        "104",
        "2",
        "pix.example",
        "tram",
        Vec::new(),
    );
    let uri = "https://pix.example/users/bob";
    let profile = remote_profile("bob", "pix.example", "Roberto Gómez");
    s.remote_event(
        uri,
        RemoteAccountEvent::RemoteAccountRefreshed { profile, at: 2 },
    );
    let index = indexed(&s)?;
    assert_eq!(ids(&index, "gomez tram")?, [104]);
    Ok(())
}

#[test]
fn an_upload_keeps_its_description_until_posted_and_is_then_consumed() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .upload("m1", "1", exif("Sony", "A7 IV", "", ""))
        .media_event(
            "m1",
            MediaEvent::MediaDescribed {
                description: Some("dunes".into()),
                focus: None,
                at: 1,
            },
        )
        .upload("m2", "1", exif("Sony", "A7 IV", "", ""))
        .media_event("m2", MediaEvent::MediaDeleted { at: 2 });
    let mut index = indexed(&s)?;
    let kinds = |index: &SearchIndex| -> crate::Result<Vec<String>> {
        Ok(index
            .reader()
            .snapshot()
            .export()?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    };
    assert_eq!(
        kinds(&index)?,
        ["a:alice", "m:m1"],
        "the deleted upload is gone"
    );
    s.photo_post("101", "1", "desert", &["m1"]);
    index.apply(&s.events)?;
    index.commit()?;
    assert_eq!(kinds(&index)?, ["a:alice", "s:101"]);
    assert_eq!(ids(&index, "desert camera:sony")?, [101]);
    Ok(())
}

#[test]
fn reblogs_and_other_events_change_nothing_but_move_the_checkpoint() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1").post("101", "1", "tram");
    let mut index = indexed(&s)?;
    let before = index.reader().snapshot().export()?;
    s.account_event(
        "alice",
        AccountEvent::PasswordChanged {
            password_hash: "y".into(),
            at: 5,
        },
    );
    index.apply(&s.events)?;
    assert_eq!(
        index.reader().checkpoint(),
        3,
        "searchable without a commit"
    );
    assert_eq!(index.reader().snapshot().export()?, before);
    Ok(())
}

#[test]
fn an_upload_posted_in_the_same_batch_leaves_no_side_document() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .upload("m1", "1", exif("Sony", "A7 IV", "", ""))
        .photo_post("101", "1", "desert", &["m1"])
        .edit("101", "1", "desert again");
    let index = indexed(&s)?;
    let keys: Vec<String> = index
        .reader()
        .snapshot()
        .export()?
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(keys, ["a:alice", "s:101"]);
    assert_eq!(ids(&index, "again camera:sony")?, [101]);
    Ok(())
}
