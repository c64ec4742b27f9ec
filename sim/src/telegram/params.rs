//! Method parameters, read the ways the Bot API accepts them: the query
//! string, a JSON body, a urlencoded form, or multipart/form-data (teloxide
//! sends `setWebhook` that way). Outside JSON every value arrives as text,
//! and nested objects as JSON inside that text, so the accessors coerce.

use serde_json::{Map, Value};

use super::reply::TgError;

#[derive(Debug, Default)]
pub(crate) struct Params(Map<String, Value>);

impl Params {
    /// Query parameters first, then the body's, which win on a clash.
    pub fn parse(query: Option<&str>, content_type: &str, body: &[u8]) -> Result<Params, TgError> {
        let mut map = Map::new();
        if let Some(query) = query {
            add_form(&mut map, query.as_bytes())?;
        }
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            _ if body.iter().all(u8::is_ascii_whitespace) => {}
            "application/json" => match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(fields)) => map.extend(fields),
                _ => return Err(TgError::bad_request("invalid JSON in request body")),
            },
            "application/x-www-form-urlencoded" => add_form(&mut map, body)?,
            "multipart/form-data" => {
                let boundary = boundary(content_type)
                    .ok_or_else(|| TgError::bad_request("invalid multipart boundary"))?;
                add_multipart(&mut map, body, &boundary);
            }
            // Telegram ignores bodies it cannot read rather than failing.
            _ => {}
        }
        Ok(Params(map))
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A text parameter; numbers and booleans read as their text.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// An integer given as a number or as its decimal text; `Err(())`
    /// when present but not an integer, so callers pick the wording.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ()> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| ()),
            Some(_) => Err(()),
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        match self.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
            Some(Value::String(s)) => matches!(s.trim(), "true" | "True" | "1"),
            _ => false,
        }
    }

    /// An object or array parameter, given as JSON or as JSON text.
    pub fn json(&self, name: &str) -> Result<Option<Value>, ()> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(v @ (Value::Object(_) | Value::Array(_))) => Ok(Some(v.clone())),
            Some(_) => Err(()),
        }
    }
}

fn add_form(map: &mut Map<String, Value>, raw: &[u8]) -> Result<(), TgError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw)
        .map_err(|_| TgError::bad_request("invalid form parameters"))?;
    for (k, v) in pairs {
        map.insert(k, Value::String(v));
    }
    Ok(())
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Text fields only: uploaded files (a webhook certificate) are not kept.
fn add_multipart(map: &mut Map<String, Value>, body: &[u8], boundary: &str) {
    let body = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    for part in body.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((headers, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"));
        let Some(disposition) = disposition else {
            continue;
        };
        if disposition.contains("filename=") {
            continue;
        }
        if let Some(name) = disposition_name(disposition) {
            map.insert(name, Value::String(value.to_owned()));
        }
    }
}

fn disposition_name(header: &str) -> Option<String> {
    header.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_form_query_and_multipart_alike() {
        let json =
            Params::parse(None, "application/json", br#"{"chat_id":5,"text":"hi"}"#).expect("json");
        let form = Params::parse(
            None,
            "application/x-www-form-urlencoded",
            b"chat_id=5&text=hi",
        )
        .expect("form");
        let query = Params::parse(Some("chat_id=5&text=hi"), "", b"").expect("query");
        let multipart_body = "--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n5\
                              \r\n--XyZ\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi\
                              \r\n--XyZ--\r\n";
        let multipart = Params::parse(
            None,
            "multipart/form-data; boundary=XyZ",
            multipart_body.as_bytes(),
        )
        .expect("multipart");
        for p in [json, form, query, multipart] {
            assert_eq!(p.int("chat_id"), Ok(Some(5)));
            assert_eq!(p.text("text").as_deref(), Some("hi"));
        }
    }

    #[test]
    fn nested_json_may_arrive_as_text() {
        let p = Params::parse(
            Some("reply_markup=%7B%22inline_keyboard%22%3A%5B%5D%7D&show_alert=true"),
            "",
            b"",
        )
        .expect("query");
        assert_eq!(
            p.json("reply_markup"),
            Ok(Some(serde_json::json!({"inline_keyboard": []})))
        );
        assert!(p.flag("show_alert"));
        assert_eq!(p.int("chat_id"), Ok(None));
    }
}
