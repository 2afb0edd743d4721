//! Parsed queries to tantivy queries.
//!
//! Words and phrases are scored (BM25, a few fields boosted); every other clause is a filter
//! with no score of its own, so a query of filters only (`camera:x100v`) ranks all its hits
//! equal and they come newest first.

use std::ops::Bound;

use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Term as TantivyTerm;

use crate::documents::day_number;
use crate::query::{Clause, StatusQuery};
use crate::schema::{keyword_analyzer, terms, words_analyzer, Fields, KIND_ACCOUNT, KIND_STATUS};

/// Which statuses a query may return, before the API's own visibility check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every visibility: the caller filters each hit through `statuses::visible`.
    #[default]
    All,
    /// Public and unlisted statuses only, for anonymous viewers and for facet counts that must
    /// not reveal anything about private statuses.
    Public,
}

/// Restricts hits to ids below `max_id` and above `min_id`, as Mastodon's pagination does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdRange {
    pub max_id: Option<u64>,
    pub min_id: Option<u64>,
}

pub struct Builder {
    fields: Fields,
    words: TextAnalyzer,
    keyword: TextAnalyzer,
}

type Q = Box<dyn Query>;

fn term(field: Field, text: &str) -> TantivyTerm {
    TantivyTerm::from_field_text(field, text)
}

fn term_query(field: Field, text: &str) -> Q {
    Box::new(TermQuery::new(
        term(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn u64_is(field: Field, value: u64) -> Q {
    Box::new(TermQuery::new(
        TantivyTerm::from_field_u64(field, value),
        IndexRecordOption::Basic,
    ))
}

fn filter(q: Q) -> Q {
    Box::new(ConstScoreQuery::new(q, 0.0))
}

fn any_of(queries: Vec<Q>) -> Q {
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

/// Terms starting with `prefix` in `field`.
pub fn prefix_query(field: Field, prefix: &str) -> Q {
    let upper = format!("{prefix}{}", char::MAX);
    Box::new(RangeQuery::new(
        Bound::Included(term(field, prefix)),
        Bound::Excluded(term(field, &upper)),
    ))
}

impl Builder {
    pub fn new(fields: Fields) -> Self {
        Self {
            fields,
            words: words_analyzer(),
            keyword: keyword_analyzer(),
        }
    }

    fn keyword(&mut self, text: &str) -> String {
        terms(&mut self.keyword, text).concat()
    }

    /// Words of `text` in `field`: a term, or a phrase of several (`x-t4` is `x`, `t4`).
    fn words_in(&mut self, field: Field, text: &str) -> Option<Q> {
        let tokens = terms(&mut self.words, text);
        match tokens.as_slice() {
            [] => None,
            [one] => Some(term_query(field, one)),
            many => Some(Box::new(PhraseQuery::new(
                many.iter().map(|t| term(field, t)).collect(),
            ))),
        }
    }

    /// A word or phrase in any of the text fields, weighted by where it appears.
    fn text(&mut self, text: &str) -> Q {
        let f = self.fields;
        let weighted = [
            (f.caption, 1.0),
            (f.title, 2.0),
            (f.spoiler, 0.5),
            (f.alt, 1.0),
            (f.author_name, 0.5),
            (f.camera, 0.5),
            (f.lens, 0.5),
        ];
        let mut should: Vec<Q> = Vec::new();
        for (field, boost) in weighted {
            if let Some(q) = self.words_in(field, text) {
                should.push(Box::new(BoostQuery::new(q, boost)));
            }
        }
        if should.is_empty() {
            // Punctuation only: nothing can match it, so nothing is returned.
            return Box::new(EmptyQuery);
        }
        let tag = self.keyword(text.trim_start_matches('#'));
        should.push(Box::new(BoostQuery::new(term_query(f.tag, &tag), 1.5)));
        any_of(should)
    }

    fn clause(&mut self, clause: &Clause) -> Q {
        let f = self.fields;
        match clause {
            Clause::Word(w) | Clause::Phrase(w) => self.text(w),
            Clause::Tag(t) => {
                let t = self.keyword(t);
                filter(term_query(f.tag, &t))
            }
            Clause::From(a) => {
                let handle = match &a.host {
                    None => a.user.clone(),
                    Some(h) => format!("{}@{h}", a.user),
                };
                let handle = self.keyword(&handle);
                filter(term_query(f.author_handle, &handle))
            }
            Clause::HasMedia => filter(u64_is(f.has_media, 1)),
            Clause::Camera(v) => filter(self.words_in(f.camera, v).unwrap_or(Box::new(EmptyQuery))),
            Clause::Lens(v) => filter(self.words_in(f.lens, v).unwrap_or(Box::new(EmptyQuery))),
            Clause::Licence(v) => {
                let v = self.keyword(v);
                filter(term_query(f.licence, &v))
            }
            Clause::Language(v) => filter(term_query(f.language, v)),
            Clause::Before(d) => filter(Box::new(RangeQuery::new(
                Bound::Unbounded,
                Bound::Excluded(TantivyTerm::from_field_i64(f.day, day_number(*d))),
            ))),
            Clause::After(d) => filter(Box::new(RangeQuery::new(
                Bound::Excluded(TantivyTerm::from_field_i64(f.day, day_number(*d))),
                Bound::Unbounded,
            ))),
        }
    }

    fn listed(&self, kind: &str) -> Vec<(Occur, Q)> {
        vec![
            (Occur::Must, filter(term_query(self.fields.kind, kind))),
            (Occur::Must, filter(u64_is(self.fields.listed, 1))),
        ]
    }

    /// The query for statuses.
    pub fn statuses(&mut self, query: &StatusQuery, scope: Scope, ids: IdRange) -> Q {
        let f = self.fields;
        let mut clauses = self.listed(KIND_STATUS);
        for t in &query.terms {
            let q = self.clause(&t.clause);
            clauses.push((
                if t.negated {
                    Occur::MustNot
                } else {
                    Occur::Must
                },
                q,
            ));
        }
        if scope == Scope::Public {
            let public = any_of(vec![
                term_query(f.visibility, "public"),
                term_query(f.visibility, "unlisted"),
            ]);
            clauses.push((Occur::Must, filter(public)));
        }
        if ids.max_id.is_some() || ids.min_id.is_some() {
            let bound = |id: Option<u64>| {
                id.map_or(Bound::Unbounded, |id| {
                    Bound::Excluded(TantivyTerm::from_field_u64(f.id, id))
                })
            };
            let range = RangeQuery::new(bound(ids.min_id), bound(ids.max_id));
            clauses.push((Occur::Must, filter(Box::new(range))));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// The query for accounts: every word is the start of a word of the username or the display
    /// name (a whole word of the bio counts too, weakly); `user@host` narrows to hosts starting
    /// with `host`. An exact username or handle ranks first.
    pub fn accounts(&mut self, text: &str) -> Option<Q> {
        let f = self.fields;
        let text = text.trim().trim_start_matches('@');
        let (user, host) = match text.split_once('@') {
            Some((u, h)) => (u, Some(h)),
            None => (text, None),
        };
        let words = terms(&mut self.words, user);
        if words.is_empty() {
            return None;
        }
        let mut clauses = self.listed(KIND_ACCOUNT);
        for w in &words {
            let options: Vec<Q> = vec![
                Box::new(ConstScoreQuery::new(term_query(f.username, w), 3.0)),
                Box::new(ConstScoreQuery::new(prefix_query(f.username, w), 2.0)),
                Box::new(ConstScoreQuery::new(prefix_query(f.display_name, w), 1.0)),
                Box::new(BoostQuery::new(term_query(f.bio, w), 0.2)),
            ];
            clauses.push((Occur::Must, any_of(options)));
        }
        if let Some(host) = host.map(str::to_lowercase).filter(|h| !h.is_empty()) {
            clauses.push((Occur::Must, filter(prefix_query(f.host, &host))));
        }
        let acct = self.keyword(text);
        let exact = Box::new(ConstScoreQuery::new(term_query(f.acct, &acct), 10.0));
        clauses.push((Occur::Should, exact));
        Some(Box::new(BooleanQuery::new(clauses)))
    }
}
