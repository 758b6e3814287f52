//! JSON with comments and trailing commas (JSONC, as devcontainer.json is
//! written), read with `jsonc-parser` into a small tree that keeps the byte
//! offset of every value and key, so messages name FILE:LINE:COL.
//!
//! The parser limits nesting (512 levels) itself; the file is already capped
//! in size by `manifest::load`, so a hostile file costs bounded time and memory.

use std::path::Path;

use jsonc_parser::ast::{ObjectPropName, Value};
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions};

use super::super::model::Location;
use crate::error::{Error, Result};

/// A JSON value and where it starts in the text.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    pub at: usize,
    pub value: Json,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json {
    Null,
    Bool(bool),
    /// As written: tent only shows numbers (ports) or checks them against zero.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// In the file's order; a key written twice keeps each occurrence.
    Object(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Key {
    pub name: String,
    pub at: usize,
}

impl Json {
    /// What the value is, for "expected a string, found an array".
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses `text`; an error names `file:LINE:COL` and what is wrong there.
pub(super) fn parse(file: &Path, text: &str) -> Result<Node> {
    let options = ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let collect = CollectOptions { comments: CommentCollectionStrategy::Off, tokens: false };
    let parsed = jsonc_parser::parse_to_ast(text, &collect, &options).map_err(|e| {
        let at = Location::at(file, text, e.range().start);
        Error::Manifest {
            message: format!("{at}: {}", e.kind()),
            hint: Some("devcontainer.json is JSON with comments (JSONC): see docs/manifest.md".into()),
        }
    })?;
    match parsed.value {
        Some(value) => Ok(convert(value)),
        None => Err(Error::Manifest {
            message: format!("{}: the file is empty", Location::at(file, text, 0)),
            hint: Some("a devcontainer.json is one object: { \"image\": \"debian:bookworm\" }".into()),
        }),
    }
}

fn convert(value: Value<'_>) -> Node {
    match value {
        Value::NullKeyword(n) => Node { at: n.range.start, value: Json::Null },
        Value::BooleanLit(b) => Node { at: b.range.start, value: Json::Bool(b.value) },
        Value::NumberLit(n) => Node { at: n.range.start, value: Json::Number(n.value.to_string()) },
        Value::StringLit(s) => Node { at: s.range.start, value: Json::String(s.value.into_owned()) },
        Value::Array(a) => {
            Node { at: a.range.start, value: Json::Array(a.elements.into_iter().map(convert).collect()) }
        }
        Value::Object(o) => {
            let at = o.range.start;
            let props = o
                .properties
                .into_iter()
                .map(|p| {
                    let key = match p.name {
                        ObjectPropName::String(s) => Key { name: s.value.into_owned(), at: s.range.start },
                        ObjectPropName::Word(w) => Key { name: w.value.to_string(), at: w.range.start },
                    };
                    (key, convert(p.value))
                })
                .collect();
            Node { at, value: Json::Object(props) }
        }
    }
}
