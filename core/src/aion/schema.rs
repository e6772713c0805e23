//! `MessageSchema`: hand-written validators for the three dispatch message kinds.
//!
//! Each schema checks, in order: the bytes are JSON, the JSON is an object, every required
//! field is present and satisfies its rule (`content_type` first), and no field belonging to
//! the other two kinds is present. Unknown extra fields are allowed.

use serde_json::Value;

use super::codec::{
    DISPATCH_ACK_CONTENT_TYPE, DISPATCH_REQUEST_CONTENT_TYPE, DISPATCH_RESPONSE_CONTENT_TYPE,
    DispatchAckStatus,
};

/// Why a payload does not match a [`MessageSchema`].
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SchemaError {
    /// The bytes do not parse as JSON; `message` is the parser's explanation.
    #[error("payload is not JSON: {message}")]
    NotJson { message: String },
    /// The payload parses, but is not a JSON object.
    #[error("payload must be a JSON object, found {found}")]
    NotObject { found: String },
    /// One field is missing, forbidden or has the wrong value.
    #[error("field '{field}' {message}")]
    Mismatch { field: String, message: String },
}

/// A validator for one dispatch message kind: request, response or ack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageSchema {
    id: &'static str,
    required: &'static [(&'static str, Rule)],
    forbidden: &'static [&'static str],
}

/// What a required field's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Exactly(&'static str),
    NonEmptyString,
    Object,
    OneOf(&'static [&'static str]),
}

const ACK_STATUSES: &[&str] = &[
    DispatchAckStatus::ALL[0].as_str(),
    DispatchAckStatus::ALL[1].as_str(),
    DispatchAckStatus::ALL[2].as_str(),
];

/// A quoted string longer than this is cut short in error messages, so a hostile payload
/// cannot make the error itself arbitrarily large.
const FOUND_CHARS_MAX: usize = 64;

impl MessageSchema {
    /// The schema of a [`DispatchRequest`](super::DispatchRequest).
    pub const fn request() -> Self {
        MessageSchema {
            id: "aion.dispatch.request",
            required: &[
                ("content_type", Rule::Exactly(DISPATCH_REQUEST_CONTENT_TYPE)),
                ("conversation_id", Rule::NonEmptyString),
                ("request", Rule::Object),
            ],
            forbidden: &["worker_id", "result", "status"],
        }
    }

    /// The schema of a [`DispatchResponse`](super::DispatchResponse).
    pub const fn response() -> Self {
        MessageSchema {
            id: "aion.dispatch.response",
            required: &[
                (
                    "content_type",
                    Rule::Exactly(DISPATCH_RESPONSE_CONTENT_TYPE),
                ),
                ("worker_id", Rule::NonEmptyString),
                ("result", Rule::Object),
            ],
            forbidden: &["conversation_id", "request", "status"],
        }
    }

    /// The schema of a [`DispatchAck`](super::DispatchAck).
    pub const fn ack() -> Self {
        MessageSchema {
            id: "aion.dispatch.ack",
            required: &[
                ("content_type", Rule::Exactly(DISPATCH_ACK_CONTENT_TYPE)),
                ("conversation_id", Rule::NonEmptyString),
                ("status", Rule::OneOf(ACK_STATUSES)),
            ],
            forbidden: &["request", "worker_id", "result"],
        }
    }

    /// The schema's stable id, such as `aion.dispatch.request`, used as a channel's schema id.
    pub const fn id(&self) -> &'static str {
        self.id
    }

    /// Checks `bytes` against the schema and reports the first problem found.
    pub fn validate(&self, bytes: &[u8]) -> Result<(), SchemaError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|error| SchemaError::NotJson {
            message: error.to_string(),
        })?;
        let Value::Object(object) = &value else {
            return Err(SchemaError::NotObject {
                found: describe(&value),
            });
        };
        for &(field, rule) in self.required {
            let Some(found) = object.get(field) else {
                return Err(mismatch(field, "is required".to_owned()));
            };
            rule.check(found)
                .map_err(|message| mismatch(field, message))?;
        }
        for &field in self.forbidden {
            if object.contains_key(field) {
                let message = format!(
                    "belongs to another message kind and must be absent from {}",
                    self.id
                );
                return Err(mismatch(field, message));
            }
        }
        Ok(())
    }
}

impl Rule {
    /// `Err` carries the second half of a sentence that starts with the field's name.
    fn check(self, found: &Value) -> Result<(), String> {
        let ok = match (self, found) {
            (Rule::Exactly(expected), Value::String(text)) => text == expected,
            (Rule::NonEmptyString, Value::String(text)) => !text.is_empty(),
            (Rule::Object, Value::Object(_)) => true,
            (Rule::OneOf(allowed), Value::String(text)) => allowed.contains(&text.as_str()),
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let wanted = match self {
            Rule::Exactly(expected) => format!("must be {}", quote(expected)),
            Rule::NonEmptyString => "must be a non-empty string".to_owned(),
            Rule::Object => "must be an object".to_owned(),
            Rule::OneOf(allowed) => {
                let choices: Vec<String> = allowed.iter().map(|choice| quote(choice)).collect();
                format!("must be one of {}", choices.join(", "))
            }
        };
        Err(format!("{wanted}, found {}", describe(found)))
    }
}

fn mismatch(field: &str, message: String) -> SchemaError {
    SchemaError::Mismatch {
        field: field.to_owned(),
        message,
    }
}

/// A short description of a JSON value for an error message: strings are shown (quoted, and
/// cut at `FOUND_CHARS_MAX` characters), everything else only by its kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::String(text) => quote(text),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn quote(text: &str) -> String {
    let quoted = Value::from(text).to_string();
    if quoted.chars().count() <= FOUND_CHARS_MAX {
        return quoted;
    }
    let head: String = quoted.chars().take(FOUND_CHARS_MAX).collect();
    format!("{head}...")
}
