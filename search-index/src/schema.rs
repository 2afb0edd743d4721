//! The index's schema, its analyzers and its version.
//!
//! One tantivy index holds three kinds of documents, told apart by `kind`: statuses and accounts,
//! which are searched, and media, side documents that hold an upload's EXIF until the status it
//! is attached to is posted. Every document keeps its whole source (the data it was derived
//! from) as JSON in the stored `source` field: that is what the projection reads back when a
//! later event (an edit, a rename) changes a document, so the index alone holds everything the
//! projection needs (see `docs/decisions/0004-search-index-projection.md`).
//!
//! Analyzers are not stored in the index: [`register_analyzers`] runs on every open. Changing
//! what an analyzer does, like changing a field, needs [`SCHEMA_VERSION`] bumped so that existing
//! indexes are rebuilt instead of answering with terms made the old way.

use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::Index;

/// Bumped whenever a field, an analyzer or what the projection writes into documents changes:
/// an index of another version is rebuilt from the log at start.
pub const SCHEMA_VERSION: u32 = 1;

/// Words: split on anything not a letter or digit, lower-cased, accents folded (`É` → `e`,
/// `œ` → `oe`), nothing stemmed, so French and English behave alike and `é` finds `É` and `e`.
pub const WORDS: &str = "peerpx_words";
/// Keywords (tags, handles, licences): the whole value as one term, lower-cased and folded.
pub const KEYWORD: &str = "peerpx_keyword";

/// Longer tokens are dropped: they are not words anyone types, and they bloat the dictionary.
const LONGEST_TOKEN: usize = 64;

pub const KIND_STATUS: &str = "status";
pub const KIND_ACCOUNT: &str = "account";
pub const KIND_MEDIA: &str = "media";

/// Handles on every field, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `status`, `account` or `media`.
    pub kind: Field,
    /// Unique per document: `s:{status id}`, `a:{username}`, `r:{actor uri}`, `m:{media id}`.
    pub key: Field,
    /// The source the document was derived from, JSON.
    pub source: Field,
    /// A status's or an account's id as a number (ids are snowflakes: ordering is time order).
    pub id: Field,
    /// The same id as text, as the API and SQL know it.
    pub id_text: Field,
    /// 1 while the document may be returned (its author or the account is active).
    pub listed: Field,
    // Statuses.
    pub author_id: Field,
    pub media_id: Field,
    pub caption: Field,
    pub spoiler: Field,
    pub title: Field,
    pub tag: Field,
    pub alt: Field,
    pub author_name: Field,
    /// `user` for a local author, `user@host` for a remote one.
    pub author_handle: Field,
    pub camera: Field,
    pub camera_facet: Field,
    pub lens: Field,
    pub lens_facet: Field,
    pub focal_length: Field,
    pub f_number: Field,
    pub iso: Field,
    pub licence: Field,
    pub taken_at: Field,
    pub posted_at: Field,
    /// Days since 1970-01-01 that `before:` and `after:` compare: the day the first photo that
    /// records one was taken, else the day the status was posted.
    pub day: Field,
    pub visibility: Field,
    pub language: Field,
    /// The host a remote status came from; empty for ours.
    pub host: Field,
    pub has_media: Field,
    pub reply: Field,
    // Accounts.
    pub username: Field,
    pub acct: Field,
    pub display_name: Field,
    pub bio: Field,
    pub local: Field,
}

fn words(stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(WORDS)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored {
        options.set_stored()
    } else {
        options
    }
}

fn keyword() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(KEYWORD)
            .set_index_option(IndexRecordOption::Basic),
    )
}

fn number() -> NumericOptions {
    NumericOptions::default()
        .set_indexed()
        .set_fast()
        .set_stored()
}

fn date() -> DateOptions {
    DateOptions::from(INDEXED | FAST | STORED).set_precision(DateTimePrecision::Seconds)
}

/// The schema of a new index and the handles on its fields.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        kind: b.add_text_field("kind", STRING | STORED),
        key: b.add_text_field("key", STRING | STORED),
        source: b.add_bytes_field("source", STORED),
        id: b.add_u64_field("id", number()),
        id_text: b.add_text_field("id_text", STRING | STORED),
        listed: b.add_u64_field("listed", INDEXED | FAST),
        author_id: b.add_text_field("author_id", STRING),
        media_id: b.add_text_field("media_id", STRING),
        caption: b.add_text_field("caption", words(false)),
        spoiler: b.add_text_field("spoiler", words(false)),
        title: b.add_text_field("title", words(false)),
        tag: b.add_text_field("tag", keyword()),
        alt: b.add_text_field("alt", words(false)),
        author_name: b.add_text_field("author_name", words(false)),
        author_handle: b.add_text_field("author_handle", keyword()),
        camera: b.add_text_field("camera", words(false)),
        camera_facet: b.add_text_field("camera_facet", STRING | FAST),
        lens: b.add_text_field("lens", words(false)),
        lens_facet: b.add_text_field("lens_facet", STRING | FAST),
        focal_length: b.add_f64_field("focal_length", number()),
        f_number: b.add_f64_field("f_number", number()),
        iso: b.add_u64_field("iso", number()),
        licence: b.add_text_field("licence", keyword().set_fast(KEYWORD)),
        taken_at: b.add_date_field("taken_at", date()),
        posted_at: b.add_date_field("posted_at", date()),
        day: b.add_i64_field("day", INDEXED | FAST),
        visibility: b.add_text_field("visibility", STRING | FAST),
        language: b.add_text_field("language", STRING),
        host: b.add_text_field("host", STRING),
        has_media: b.add_u64_field("has_media", INDEXED | FAST),
        reply: b.add_u64_field("reply", INDEXED | FAST),
        username: b.add_text_field("username", words(false)),
        acct: b.add_text_field("acct", keyword()),
        display_name: b.add_text_field("display_name", words(false)),
        bio: b.add_text_field("bio", words(false)),
        local: b.add_u64_field("local", INDEXED | FAST),
    };
    (b.build(), fields)
}

/// The analyzer behind [`WORDS`].
pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_TOKEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The analyzer behind [`KEYWORD`].
pub fn keyword_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Registers the analyzers the schema names; needed on every open, in RAM or on disk.
pub fn register_analyzers(index: &Index) {
    index.tokenizers().register(WORDS, words_analyzer());
    index.tokenizers().register(KEYWORD, keyword_analyzer());
    // Fast fields look their analyzer up in a manager of their own (`licence` is one).
    index
        .fast_field_tokenizer()
        .register(KEYWORD, keyword_analyzer());
}

/// The terms `text` gives under `analyzer`.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_and_folded_without_stemming() {
        let got = terms(&mut words_analyzer(), "Été à Évian: les CHÂTEAUX, Œuvres");
        assert_eq!(got, ["ete", "a", "evian", "les", "chateaux", "oeuvres"]);
    }

    #[test]
    fn a_keyword_is_one_folded_term() {
        let got = terms(&mut keyword_analyzer(), "Café_Crème");
        assert_eq!(got, ["cafe_creme"]);
    }

    #[test]
    fn the_schema_is_the_same_every_time_it_is_built() {
        assert_eq!(schema().0, schema().0);
    }
}
