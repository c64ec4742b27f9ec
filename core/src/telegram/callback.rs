//! Callback data of inline buttons. Telegram hands back whatever the button
//! carried, and anyone can craft a callback query, so the data is signed:
//! `<action>:<session id>:<tag>` where the tag is an HMAC-SHA256 of the first
//! two parts under `telegram.callback_key`, truncated to 128 bits. Ids and
//! tags are base64url, so the whole fits Telegram's 64-byte limit (47 bytes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::domain::SessionId;

const TAG_BYTES: usize = 16;

/// What a prompt button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Confirm,
    Deny,
}

impl Action {
    fn code(self) -> &'static str {
        match self {
            Action::Confirm => "y",
            Action::Deny => "n",
        }
    }
}

/// Why callback data was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("not tgate's callback data")]
    Malformed,
    #[error("the callback data's signature does not match")]
    BadTag,
}

/// Signs and checks callback data with one key.
#[derive(Clone)]
pub struct CallbackSigner {
    key: SecretString,
}

impl std::fmt::Debug for CallbackSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallbackSigner([redacted])")
    }
}

impl CallbackSigner {
    pub fn new(key: SecretString) -> Self {
        CallbackSigner { key }
    }

    fn tag(&self, action: Action, id: &str) -> [u8; TAG_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(action.code().as_bytes());
        mac.update(b":");
        mac.update(id.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }

    /// The data for a button doing `action` on session `id`.
    pub fn encode(&self, action: Action, id: SessionId) -> String {
        let id = URL_SAFE_NO_PAD.encode(id.0.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(self.tag(action, &id));
        format!("{}:{id}:{tag}", action.code())
    }

    /// Checks the tag in constant time and returns what the button asks for.
    pub fn decode(&self, data: &str) -> Result<(Action, SessionId), CallbackError> {
        let mut parts = data.split(':');
        let (Some(code), Some(id), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CallbackError::Malformed);
        };
        let action = match code {
            "y" => Action::Confirm,
            "n" => Action::Deny,
            _ => return Err(CallbackError::Malformed),
        };
        let presented = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| CallbackError::Malformed)?;
        if !bool::from(self.tag(action, id).as_slice().ct_eq(&presented)) {
            return Err(CallbackError::BadTag);
        }
        let bytes: [u8; 16] = URL_SAFE_NO_PAD
            .decode(id)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CallbackError::Malformed)?;
        Ok((action, SessionId(Uuid::from_bytes(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(key: &str) -> CallbackSigner {
        CallbackSigner::new(SecretString::from(key.to_owned()))
    }

    #[test]
    fn round_trip_within_telegrams_64_bytes() {
        let s = signer("k1-0123456789abcdef");
        let id = SessionId::new();
        for action in [Action::Confirm, Action::Deny] {
            let data = s.encode(action, id);
            assert!(data.len() <= 64, "{} bytes", data.len());
            assert_eq!(s.decode(&data), Ok((action, id)));
        }
    }

    #[test]
    fn forged_or_altered_data_is_refused() {
        let s = signer("k1-0123456789abcdef");
        let id = SessionId::new();
        let data = s.encode(Action::Deny, id);
        // Another key's signature.
        assert_eq!(
            signer("other-key-0123456789").decode(&data),
            Err(CallbackError::BadTag)
        );
        // The action flipped with the tag kept.
        let flipped = format!("y{}", &data[1..]);
        assert_eq!(s.decode(&flipped), Err(CallbackError::BadTag));
        // Another session's id with this tag.
        let other = s.encode(Action::Deny, SessionId::new());
        let (_, other_id_and_tag) = other.split_once(':').unwrap();
        let (other_id, _) = other_id_and_tag.split_once(':').unwrap();
        let (_, rest) = data.split_once(':').unwrap();
        let (_, tag) = rest.split_once(':').unwrap();
        assert_eq!(
            s.decode(&format!("n:{other_id}:{tag}")),
            Err(CallbackError::BadTag)
        );
        for junk in ["", "y", "y:abc", "x:a:b", "y:a:b:c", "y:!!:??"] {
            assert!(s.decode(junk).is_err(), "{junk:?}");
        }
    }
}
