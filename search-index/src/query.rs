//! The status query language, parsed into a typed [`StatusQuery`].
//!
//! - Plain words must all match (in the caption, content warning, title, tags, photo
//!   descriptions, author's name, camera or lens), ranked by BM25. `"quoted phrases"` match as
//!   phrases. Typographic quotes (`“…”`, as phones type them) work like `"`.
//! - `#tag`; `from:@user`, `from:user`, `from:user@host`, `from:@user@host`; `has:media`.
//! - Photo extensions: `camera:`, `lens:` (words or a phrase of the camera's or lens's name),
//!   `licence:` (also `license:`, a licence id such as `cc-by-sa`), `language:` (`fr`),
//!   `before:YYYY-MM-DD` and `after:YYYY-MM-DD`: both exclusive, comparing the day the photo was
//!   taken (from its EXIF) and, for statuses whose photos record no date, the day it was posted.
//! - A value may be quoted: `camera:"Fujifilm X-T4"`. A leading `-` excludes: `-#night`,
//!   `-camera:iphone`, `-word`.
//!
//! A `word:` that is not an operator is an error only when something follows the colon
//! (`foo:bar`): a word ending a sentence with a colon (`Paris: sunset`) is a word, and URLs
//! (`https://…`) and handles (`@user@host`) are words too (the API resolves those separately).

use chrono::NaiveDate;

/// Longest query accepted, in characters: longer ones are refused before any work.
pub const MAX_QUERY_CHARS: usize = 512;

/// The operators, as the error for an unknown one lists them.
pub const OPERATORS: &[&str] = &[
    "from", "has", "camera", "lens", "licence", "license", "language", "before", "after",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The username, without `@`.
    pub user: String,
    /// The host of a remote account; `None` for one of ours.
    pub host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Word(String),
    Phrase(String),
    Tag(String),
    From(Author),
    HasMedia,
    Camera(String),
    Lens(String),
    Licence(String),
    Language(String),
    Before(NaiveDate),
    After(NaiveDate),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub clause: Clause,
    /// Written with a leading `-`: statuses matching it are excluded.
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusQuery {
    pub terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the search is empty")]
    Empty,
    #[error("a search needs something to look for besides what it excludes")]
    OnlyExclusions,
    #[error("the search is too long ({chars} characters; at most {max})")]
    TooLong { chars: usize, max: usize },
    #[error("a quote opened at character {at} is never closed")]
    UnbalancedQuote { at: usize },
    #[error("{operator}: is not a search operator (known: {known})")]
    UnknownOperator { operator: String, known: String },
    #[error("{operator}: needs a value, as in {example}")]
    EmptyValue {
        operator: String,
        example: &'static str,
    },
    #[error(
        "{operator}:{value} is not a date; write it as YYYY-MM-DD, as in {operator}:2024-05-31"
    )]
    BadDate { operator: String, value: String },
    #[error("has:{0} is not known; has:media is")]
    UnknownHas(String),
    #[error("from:{0} is not an account; write from:user or from:user@host")]
    BadAccount(String),
}

impl QueryError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_query",
            Self::OnlyExclusions => "only_exclusions",
            Self::TooLong { .. } => "query_too_long",
            Self::UnbalancedQuote { .. } => "unbalanced_quote",
            Self::UnknownOperator { .. } => "unknown_operator",
            Self::EmptyValue { .. } => "empty_operator_value",
            Self::BadDate { .. } => "bad_date",
            Self::UnknownHas(_) => "unknown_has",
            Self::BadAccount(_) => "bad_account",
        }
    }
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„')
}

/// A piece of the query: its text, and whether it was a quoted phrase.
struct Piece {
    text: String,
    quoted: bool,
}

/// Splits on spaces outside quotes. `name:"a b"` stays one piece with the quotes taken out of
/// its value (the `bool` beside it is then set); `"a b"` alone is a quoted piece.
fn pieces(text: &str) -> Result<Vec<(Piece, bool)>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut current = String::new();
        let mut quoted = false;
        let mut quoted_value = false;
        while i < chars.len() && !chars[i].is_whitespace() {
            if is_quote(chars[i]) {
                let open = i;
                i += 1;
                let close = (i..chars.len()).find(|&j| is_quote(chars[j]));
                let Some(close) = close else {
                    return Err(QueryError::UnbalancedQuote { at: open + 1 });
                };
                let inner: String = chars[i..close].iter().collect();
                if current.is_empty() || current == "-" {
                    quoted = true;
                } else {
                    quoted_value = true;
                }
                current.push_str(&inner);
                i = close + 1;
            } else {
                current.push(chars[i]);
                i += 1;
            }
        }
        out.push((
            Piece {
                text: current,
                quoted,
            },
            quoted_value,
        ));
    }
    Ok(out)
}

/// `from:` values: `@user`, `user`, `@user@host`, `user@host`.
fn author(value: &str) -> Result<Author, QueryError> {
    let v = value.strip_prefix('@').unwrap_or(value);
    let (user, host) = match v.split_once('@') {
        Some((u, h)) => (u, Some(h)),
        None => (v, None),
    };
    let user_ok = !user.is_empty() && !user.contains(['@', '/', ':']);
    // A host may name a port (`127.0.0.1:8080`), nothing else.
    let host_ok = |h: &str| !h.is_empty() && !h.contains(['@', '/']);
    if !user_ok || host.is_some_and(|h| !host_ok(h)) {
        return Err(QueryError::BadAccount(value.to_string()));
    }
    Ok(Author {
        user: user.to_lowercase(),
        host: host.map(str::to_lowercase),
    })
}

fn date(operator: &str, value: &str) -> Result<NaiveDate, QueryError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| value.len() == 10)
        .ok_or_else(|| QueryError::BadDate {
            operator: operator.to_string(),
            value: value.to_string(),
        })
}

fn example(operator: &str) -> &'static str {
    match operator {
        "from" => "from:@alice",
        "has" => "has:media",
        "camera" => "camera:\"Fujifilm X-T4\"",
        "lens" => "lens:35mm",
        "licence" | "license" => "licence:cc-by",
        "language" => "language:fr",
        "before" => "before:2024-05-31",
        _ => "after:2024-05-31",
    }
}

/// The clause of `name:value`, `None` when `name` is not an operator name at all (then the
/// piece is a word).
fn operator(name: &str, value: &str, quoted: bool) -> Result<Option<Clause>, QueryError> {
    let lower = name.to_ascii_lowercase();
    let known = OPERATORS.contains(&lower.as_str());
    if value.is_empty() && !quoted {
        if known {
            return Err(QueryError::EmptyValue {
                example: example(&lower),
                operator: lower,
            });
        }
        // `Paris:` at the end of a phrase is a word.
        return Ok(None);
    }
    if !known {
        return Err(QueryError::UnknownOperator {
            operator: name.to_string(),
            known: OPERATORS.join(", "),
        });
    }
    if value.trim().is_empty() {
        return Err(QueryError::EmptyValue {
            example: example(&lower),
            operator: lower,
        });
    }
    let value = value.trim().to_string();
    Ok(Some(match lower.as_str() {
        "from" => Clause::From(author(&value)?),
        "has" if value.eq_ignore_ascii_case("media") => Clause::HasMedia,
        "has" => return Err(QueryError::UnknownHas(value)),
        "camera" => Clause::Camera(value),
        "lens" => Clause::Lens(value),
        "licence" | "license" => Clause::Licence(value.to_lowercase().replace(' ', "-")),
        "language" => Clause::Language(value.to_lowercase()),
        "before" => Clause::Before(date(&lower, &value)?),
        _ => Clause::After(date(&lower, &value)?),
    }))
}

/// One unquoted piece, its `-` already taken off.
fn clause(text: &str, quoted_value: bool) -> Result<Option<Clause>, QueryError> {
    if let Some(tag) = text.strip_prefix('#') {
        let tag = tag.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_');
        return Ok((!tag.is_empty()).then(|| Clause::Tag(tag.to_lowercase())));
    }
    if let Some((name, value)) = text.split_once(':') {
        // An operator's name is letters only: `https://x`, `12:30` or `@a@b:80` are words.
        let looks_like_operator = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphabetic())
            && !value.starts_with("//");
        if looks_like_operator {
            if let Some(c) = operator(name, value, quoted_value)? {
                return Ok(Some(c));
            }
            return Ok(Some(Clause::Word(name.to_string())));
        }
    }
    Ok(Some(Clause::Word(text.to_string())))
}

/// Parses a query typed by a person.
pub fn parse(text: &str) -> Result<StatusQuery, QueryError> {
    let chars = text.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong {
            chars,
            max: MAX_QUERY_CHARS,
        });
    }
    let mut terms = Vec::new();
    for (piece, quoted_value) in pieces(text)? {
        let (negated, body) = match piece.text.strip_prefix('-') {
            Some(rest) if !rest.is_empty() || piece.quoted => (true, rest.to_string()),
            _ => (false, piece.text.clone()),
        };
        let parsed = if piece.quoted {
            (!body.trim().is_empty()).then(|| Clause::Phrase(body.trim().to_string()))
        } else {
            clause(&body, quoted_value)?
        };
        if let Some(clause) = parsed {
            terms.push(Term { clause, negated });
        }
    }
    if terms.is_empty() {
        return Err(QueryError::Empty);
    }
    if terms.iter().all(|t| t.negated) {
        return Err(QueryError::OnlyExclusions);
    }
    Ok(StatusQuery { terms })
}

impl StatusQuery {
    /// `from:user@{our domain}` means one of ours: the index knows local authors by `user`.
    pub fn localize(&mut self, local_domain: &str) {
        for t in &mut self.terms {
            if let Clause::From(a) = &mut t.clause {
                if a.host
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(local_domain))
                {
                    a.host = None;
                }
            }
        }
    }
}
