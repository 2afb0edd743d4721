use peerpx_aggregates::status::RemoteMedia;
use serde_json::json;

use super::*;

/// Alice (local) and Bob (remote) post photos with various cameras, lenses, licences and dates.
fn story() -> Story {
    let mut s = Story::default();
    s.account("alice", "1")
        .remote_account("bob", "pix.example", "2")
        .upload(
            "m1",
            "1",
            exif("FUJIFILM", "X-T4", "XF23mmF1.4 R", "2023-12-24T18:30:00"),
        )
        .upload(
            "m2",
            "1",
            exif("Canon", "Canon EOS R5", "RF50mm F1.2 L USM", ""),
        )
        .photo_post("101", "1", "Christmas market #night", &["m1"])
        .photo_post("102", "1", "Portrait #studio", &["m2"])
        .post_with("103", "1", "Text only #night", |p| {
            p.content.licence = "cc-by-sa".into();
            p.content.language = Some("fr".into());
            p.in_reply_to = Some(peerpx_aggregates::status::ReplyTo {
                status_id: "101".into(),
                account_id: "1".into(),
            });
        });
    let photo = RemoteMedia {
        url: "https://pix.example/p.jpg".into(),
        description: Some("A red tram".into()),
        exif: Some(
            json!({"camera": "Leica M11", "lens": "Summicron 35", "dateTaken": "2024-03-01T09:00:00"}),
        ),
        ..RemoteMedia::default()
    };
    s.remote_post("104", "2", "pix.example", "Lisbon #night", vec![photo]);
    s
}

#[test]
fn a_hashtag_finds_statuses_tagged_with_it() -> TestResult {
    let index = indexed(&story())?;
    assert_eq!(ids(&index, "#night")?, [104, 103, 101]);
    assert_eq!(ids(&index, "#NIGHT lisbon")?, [104]);
    Ok(())
}

#[test]
fn from_finds_the_statuses_of_one_author_local_or_remote() -> TestResult {
    let index = indexed(&story())?;
    assert_eq!(ids(&index, "from:@alice #night")?, [103, 101]);
    assert_eq!(ids(&index, "from:alice #night")?, [103, 101]);
    assert_eq!(ids(&index, "from:bob@pix.example")?, [104]);
    assert_eq!(ids(&index, "from:@bob@PIX.example")?, [104]);
    assert_eq!(
        ids(&index, "from:bob")?,
        Vec::<u64>::new(),
        "bob is not one of ours"
    );
    let mut q = parse("from:alice@our.example")?;
    q.localize("our.example");
    let snap = index.reader().snapshot();
    assert_eq!(
        snap.statuses(&q, Scope::All, &Window::first(10))?,
        [103, 102, 101]
    );
    Ok(())
}

#[test]
fn has_media_keeps_statuses_with_photos() -> TestResult {
    let index = indexed(&story())?;
    assert_eq!(ids(&index, "#night has:media")?, [104, 101]);
    Ok(())
}

#[test]
fn camera_and_lens_match_words_or_a_quoted_name() -> TestResult {
    let index = indexed(&story())?;
    assert_eq!(ids(&index, "camera:fujifilm")?, [101]);
    assert_eq!(ids(&index, "camera:x-t4")?, [101]);
    assert_eq!(ids(&index, "camera:\"Fujifilm X-T4\"")?, [101]);
    assert_eq!(ids(&index, "camera:\"X-T4 Fujifilm\"")?, Vec::<u64>::new());
    assert_eq!(ids(&index, "camera:canon")?, [102]);
    assert_eq!(ids(&index, "camera:leica")?, [104], "a remote photo's EXIF");
    assert_eq!(ids(&index, "lens:summicron")?, [104]);
    assert_eq!(ids(&index, "lens:\"RF50mm F1.2\"")?, [102]);
    Ok(())
}

#[test]
fn licence_and_language_filter_exactly() -> TestResult {
    let index = indexed(&story())?;
    assert_eq!(ids(&index, "licence:cc-by-sa")?, [103]);
    assert_eq!(ids(&index, "license:CC-BY-SA")?, [103]);
    assert_eq!(ids(&index, "licence:cc-by")?, Vec::<u64>::new());
    assert_eq!(ids(&index, "language:fr")?, [103]);
    Ok(())
}

#[test]
fn before_and_after_compare_the_taken_day_else_the_posted_day() -> TestResult {
    let index = indexed(&story())?;
    // 101 was taken 2023-12-24, 104 on 2024-03-01; 102 and 103 record no date: posted 2024-06-01.
    assert_eq!(ids(&index, "before:2024-01-01")?, [101]);
    assert_eq!(ids(&index, "after:2023-12-24 before:2024-06-01")?, [104]);
    assert_eq!(ids(&index, "after:2024-05-31")?, [103, 102]);
    assert_eq!(
        ids(&index, "before:2023-12-24")?,
        Vec::<u64>::new(),
        "exclusive"
    );
    Ok(())
}

#[test]
fn a_minus_excludes_what_follows_it() -> TestResult {
    let index = indexed(&story())?;
    assert_eq!(ids(&index, "#night -has:media")?, [103]);
    assert_eq!(ids(&index, "#night -lisbon -market")?, [103]);
    assert_eq!(ids(&index, "#night -from:@alice")?, [104]);
    Ok(())
}

#[test]
fn the_public_scope_leaves_out_private_and_direct_statuses() -> TestResult {
    let mut s = story();
    s.post_with("105", "1", "secret #night", |p| {
        p.visibility = peerpx_aggregates::Visibility::Private;
    })
    .post_with("106", "1", "whisper #night", |p| {
        p.visibility = peerpx_aggregates::Visibility::Direct;
    });
    let index = indexed(&s)?;
    let q = parse("#night")?;
    let snap = index.reader().snapshot();
    let first = Window::first(10);
    assert_eq!(
        snap.statuses(&q, Scope::All, &first)?,
        [106, 105, 104, 103, 101]
    );
    assert_eq!(snap.statuses(&q, Scope::Public, &first)?, [104, 103, 101]);
    Ok(())
}

#[test]
fn facets_count_the_cameras_lenses_and_licences_of_the_hits() -> TestResult {
    let mut s = story();
    s.upload("m3", "1", exif("FUJIFILM", "X-T4", "XF35mmF2", ""))
        .upload("m4", "1", exif("FUJIFILM", "X-T4", "XF35mmF2", ""))
        .photo_post("107", "1", "Two frames #night", &["m3", "m4"]);
    let index = indexed(&s)?;
    let snap = index.reader().snapshot();
    let facets = snap.facets(&parse("#night")?, Scope::Public, 10)?;
    assert_eq!(facets.hits, 4);
    let names = |v: &[crate::FacetCount]| {
        v.iter()
            .map(|f| (f.value.clone(), f.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&facets.cameras),
        [
            ("FUJIFILM X-T4".to_string(), 2),
            ("Leica M11".to_string(), 1)
        ],
        "two photos of one camera on one status count once"
    );
    assert_eq!(
        names(&facets.lenses),
        [
            ("Summicron 35".to_string(), 1),
            ("XF23mmF1.4 R".to_string(), 1),
            ("XF35mmF2".to_string(), 1)
        ]
    );
    assert_eq!(
        names(&facets.licences),
        [
            ("all-rights-reserved".to_string(), 3),
            ("cc-by-sa".to_string(), 1)
        ]
    );
    let top1 = snap.facets(&parse("#night")?, Scope::Public, 1)?;
    assert_eq!(top1.cameras.len(), 1);
    Ok(())
}
