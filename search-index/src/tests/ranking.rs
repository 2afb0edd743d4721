use super::*;
use crate::IdRange;

fn story() -> Story {
    let mut s = Story::default();
    s.account("alice", "1")
        .post(
            "101",
            "1",
            "Sunset over the sea, a sunset like no other sunset",
        )
        .post("102", "1", "A sunset in Paris")
        .post("103", "1", "Paris by night")
        .post("104", "1", "Morning fog");
    s
}

#[test]
fn every_word_must_match() -> TestResult {
    let index = indexed(&story())?;
    assert_eq!(ids(&index, "sunset paris")?, [102]);
    assert_eq!(ids(&index, "paris fog")?, Vec::<u64>::new());
    Ok(())
}

#[test]
fn more_relevant_statuses_rank_first() -> TestResult {
    let index = indexed(&story())?;
    // 101 says sunset three times; 102 once.
    assert_eq!(ids(&index, "sunset")?, [101, 102]);
    Ok(())
}

#[test]
fn equal_scores_come_newest_first() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .post("201", "1", "tram")
        .post("203", "1", "tram")
        .post("202", "1", "tram");
    let index = indexed(&s)?;
    assert_eq!(ids(&index, "tram")?, [203, 202, 201]);
    Ok(())
}

#[test]
fn a_title_weighs_more_than_a_caption() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .post("301", "1", "harbour at dawn, boats everywhere")
        .post_with("300", "1", "boats everywhere at dawn again", |p| {
            p.content.title = Some("Harbour".into());
        });
    let index = indexed(&s)?;
    assert_eq!(ids(&index, "harbour")?, [300, 301]);
    Ok(())
}

#[test]
fn accents_and_case_fold_both_ways() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .post("401", "1", "Été à ÉVIAN")
        .post("402", "1", "cafe creme")
        .post("403", "1", "Crème brûlée");
    let index = indexed(&s)?;
    assert_eq!(ids(&index, "ete evian")?, [401]);
    assert_eq!(ids(&index, "été")?, [401]);
    assert_eq!(ids(&index, "évian")?, [401]);
    assert_eq!(ids(&index, "CAFÉ")?, [402]);
    assert_eq!(ids(&index, "crème")?, [403, 402]);
    Ok(())
}

#[test]
fn phrases_match_words_in_order_only() -> TestResult {
    let index = indexed(&story())?;
    assert_eq!(ids(&index, "\"sunset in paris\"")?, [102]);
    assert_eq!(ids(&index, "\"paris in sunset\"")?, Vec::<u64>::new());
    Ok(())
}

#[test]
fn photo_descriptions_author_names_and_content_warnings_are_searched() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .rename("alice", "Alice Marchand")
        .upload("m1", "1", exif("", "", "", ""))
        .photo_post("501", "1", "untitled", &["m1"])
        .post_with("502", "1", "look", |p| {
            p.content.spoiler_text = "spiders".into()
        });
    let index = indexed(&s)?;
    assert_eq!(ids(&index, "photo m1")?, [501]);
    assert_eq!(ids(&index, "marchand untitled")?, [501]);
    assert_eq!(ids(&index, "spiders")?, [502]);
    Ok(())
}

#[test]
fn offset_limit_and_ids_page_the_ranking() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1");
    for id in 601..=610 {
        s.post(&id.to_string(), "1", "lighthouse");
    }
    let index = indexed(&s)?;
    let q = parse("lighthouse")?;
    let snap = index.reader().snapshot();
    let window = |offset, limit, max_id, min_id| Window {
        offset,
        limit,
        ids: IdRange { max_id, min_id },
    };
    assert_eq!(
        snap.statuses(&q, Scope::All, &window(0, 3, None, None))?,
        [610, 609, 608]
    );
    assert_eq!(
        snap.statuses(&q, Scope::All, &window(3, 3, None, None))?,
        [607, 606, 605]
    );
    assert_eq!(
        snap.statuses(&q, Scope::All, &window(0, 2, Some(605), None))?,
        [604, 603]
    );
    assert_eq!(
        snap.statuses(&q, Scope::All, &window(0, 10, Some(605), Some(602)))?,
        [604, 603]
    );
    assert_eq!(snap.count_statuses(&q, Scope::All)?, 10);
    Ok(())
}

#[test]
fn accounts_are_found_by_prefix_of_their_names() -> TestResult {
    let mut s = Story::default();
    s.account("alice", "1")
        .account("alicia", "2")
        .account("bob", "3")
        .rename("bob", "Bob Alinsky")
        .remote_account("ali", "pix.example", "4");
    let index = indexed(&s)?;
    let snap = index.reader().snapshot();
    let first = Window::first(10);
    // The exact username first, then prefixes of usernames, then of display names.
    let found = snap.accounts("ali", &first)?;
    assert_eq!(found[0], 4);
    assert_eq!(found.len(), 4);
    assert_eq!(*found.last().unwrap_or(&0), 3);
    assert_eq!(snap.accounts("@ali@pix", &first)?, [4]);
    assert_eq!(snap.accounts("alic", &first)?, [2, 1]);
    assert_eq!(
        snap.accounts("street", &first)?,
        [4],
        "a remote bio, as text"
    );
    assert_eq!(snap.accounts("   ", &first)?, Vec::<u64>::new());
    Ok(())
}
