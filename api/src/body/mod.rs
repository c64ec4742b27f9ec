//! Reading a router's JSON body field by field, so a bad value is refused
//! with the field's name and the reason, and nothing else is looked at. Every
//! value must be a string (RouterOS scripts send strings), no longer than
//! [`MAX_FIELD`] characters, and a body in which a value broke out of its
//! string is refused ([`strict`]).

mod strict;

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use serde_json::{Map, Value};
use tgate_core::domain::InvalidValue;

use crate::error::ApiError;

/// Router event bodies are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;
pub const MAX_FIELD: usize = 256;

pub struct Fields(Map<String, Value>);

impl Fields {
    pub fn parse(body: Result<Bytes, BytesRejection>) -> Result<Fields, ApiError> {
        let body = body.map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge(MAX_BODY),
            other => ApiError::field("body", other.body_text()),
        })?;
        match strict::parse(&body) {
            Ok(Ok(map)) => Ok(Fields(map)),
            Ok(Err(strict::Broken::Twice(key))) => Err(ApiError::field(
                key,
                "given twice: a value broke out of its string",
            )),
            Ok(Err(strict::Broken::Escaped(key))) => Err(ApiError::field(
                key,
                "contains a JSON escape, which a router's script never writes: a value broke out of its string",
            )),
            Err(e) if e.is_data() => Err(ApiError::field("body", "must be a JSON object")),
            Err(e) => Err(ApiError::field("body", format!("not valid JSON: {e}"))),
        }
    }

    /// The field's text; `None` when absent, null or empty.
    fn text(&self, key: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s.chars().count() > MAX_FIELD => Err(ApiError::field(
                key,
                format!("longer than {MAX_FIELD} characters"),
            )),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::field(key, "must be a string")),
        }
    }

    pub fn optional<T>(&self, key: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr,
        T::Err: Into<Reason>,
    {
        self.text(key)?
            .map(|s| s.parse::<T>().map_err(|e| ApiError::field(key, e.into().0)))
            .transpose()
    }

    pub fn required<T>(&self, key: &str) -> Result<T, ApiError>
    where
        T: FromStr,
        T::Err: Into<Reason>,
    {
        self.optional(key)?
            .ok_or_else(|| ApiError::field(key, "missing"))
    }

    /// A Telegram chat id: a string of digits (or a number), empty for none.
    pub fn chat_id(&self, key: &str) -> Result<Option<i64>, ApiError> {
        if let Some(Value::Number(n)) = self.0.get(key) {
            return n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::field(key, "not a Telegram chat id"));
        }
        self.text(key)?
            .map(|s| {
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::field(key, "not a Telegram chat id"))
            })
            .transpose()
    }
}

/// The reason a value did not parse, from the domain's or std's error types.
pub struct Reason(String);

impl From<InvalidValue> for Reason {
    fn from(e: InvalidValue) -> Self {
        Reason(e.reason)
    }
}

impl From<std::net::AddrParseError> for Reason {
    fn from(_: std::net::AddrParseError) -> Self {
        Reason("not an IP address".into())
    }
}
