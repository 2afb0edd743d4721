use chrono::NaiveDate;

use crate::query::{parse, Author, Clause, QueryError, Term, MAX_QUERY_CHARS};

fn clauses(q: &str) -> Result<Vec<Clause>, QueryError> {
    Ok(parse(q)?.terms.into_iter().map(|t| t.clause).collect())
}

fn word(w: &str) -> Clause {
    Clause::Word(w.into())
}

#[test]
fn words_phrases_tags_and_operators_are_told_apart() -> Result<(), QueryError> {
    let got = clauses(
        r#"sunset "old harbour" #Night from:@alice has:media camera:"Fujifilm X-T4" lens:35mm licence:CC-BY before:2024-05-31 after:2023-01-01 language:FR"#,
    )?;
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or(QueryError::Empty);
    assert_eq!(
        got,
        [
            word("sunset"),
            Clause::Phrase("old harbour".into()),
            Clause::Tag("night".into()),
            Clause::From(Author {
                user: "alice".into(),
                host: None
            }),
            Clause::HasMedia,
            Clause::Camera("Fujifilm X-T4".into()),
            Clause::Lens("35mm".into()),
            Clause::Licence("cc-by".into()),
            Clause::Before(date(2024, 5, 31)?),
            Clause::After(date(2023, 1, 1)?),
            Clause::Language("fr".into()),
        ]
    );
    Ok(())
}

#[test]
fn from_takes_every_form_of_a_handle() -> Result<(), QueryError> {
    let bob = Clause::From(Author {
        user: "bob".into(),
        host: Some("pix.example:8443".into()),
    });
    assert_eq!(
        clauses("from:@Bob@Pix.Example:8443")?,
        std::slice::from_ref(&bob)
    );
    assert_eq!(clauses("from:bob@pix.example:8443")?, [bob]);
    assert_eq!(parse("from:@").map_err(|e| e.code()), Err("bad_account"));
    Ok(())
}

#[test]
fn urls_handles_times_and_a_closing_colon_are_words() -> Result<(), QueryError> {
    assert_eq!(
        clauses("https://pix.example/@bob/1")?,
        [word("https://pix.example/@bob/1")]
    );
    assert_eq!(clauses("@bob@pix.example")?, [word("@bob@pix.example")]);
    assert_eq!(clauses("12:30")?, [word("12:30")]);
    assert_eq!(clauses("Paris: sunset")?, [word("Paris"), word("sunset")]);
    Ok(())
}

#[test]
fn a_leading_minus_negates_and_typographic_quotes_quote() -> Result<(), QueryError> {
    let q = parse("-#night “old harbour” -\"x y\"")?;
    assert_eq!(
        q.terms,
        [
            Term {
                clause: Clause::Tag("night".into()),
                negated: true
            },
            Term {
                clause: Clause::Phrase("old harbour".into()),
                negated: false
            },
            Term {
                clause: Clause::Phrase("x y".into()),
                negated: true
            },
        ]
    );
    Ok(())
}

fn error(q: &str) -> (&'static str, String) {
    match parse(q) {
        Ok(parsed) => panic!("{q:?} parsed as {parsed:?}"),
        Err(e) => (e.code(), e.to_string()),
    }
}

#[test]
fn unbalanced_quotes_are_refused_with_where_they_open() {
    assert_eq!(
        error("sunset \"old harbour"),
        (
            "unbalanced_quote",
            "a quote opened at character 8 is never closed".into()
        )
    );
    assert_eq!(error("camera:\"X-T4").0, "unbalanced_quote");
}

#[test]
fn a_long_query_is_refused_before_any_work() {
    let long = "a ".repeat(5000);
    let (code, message) = error(&long);
    assert_eq!(code, "query_too_long");
    assert_eq!(
        message,
        format!("the search is too long (10000 characters; at most {MAX_QUERY_CHARS})")
    );
    assert!(
        parse(&"é".repeat(MAX_QUERY_CHARS)).is_ok(),
        "the limit counts characters"
    );
}

#[test]
fn unknown_operators_are_named_with_the_known_ones() {
    let (code, message) = error("foo:bar");
    assert_eq!(code, "unknown_operator");
    assert!(
        message.starts_with("foo: is not a search operator (known: from, has, camera"),
        "{message}"
    );
    assert_eq!(error("has:video").0, "unknown_has");
}

#[test]
fn a_date_that_is_not_a_date_says_how_to_write_one() {
    assert_eq!(
        error("before:2024-13-01"),
        (
            "bad_date",
            "before:2024-13-01 is not a date; write it as YYYY-MM-DD, as in before:2024-05-31"
                .into()
        )
    );
    assert_eq!(error("after:yesterday").0, "bad_date");
    assert_eq!(error("after:2024-1-1").0, "bad_date");
}

#[test]
fn an_operator_without_a_value_is_refused() {
    assert_eq!(
        error("camera:"),
        (
            "empty_operator_value",
            "camera: needs a value, as in camera:\"Fujifilm X-T4\"".into()
        )
    );
    assert_eq!(error("lens:\"\"").0, "empty_operator_value");
}

#[test]
fn an_empty_or_only_negative_query_is_refused() {
    assert_eq!(error("   ").0, "empty_query");
    assert_eq!(error("-night").0, "only_exclusions");
}
