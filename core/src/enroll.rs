//! Enrollment (SPEC §2): an admin makes a one-time invite for an account; its
//! `t.me` deep link carries a random code, and whoever opens it first, before
//! it expires, becomes the account's owner.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rand::RngCore;

use crate::domain::{AccountName, RouterName};
use crate::storage::{AuditEntry, Invite, Store, StoreError};

/// How long an invite lasts unless told otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// 128 random bits in Telegram's start-parameter alphabet (22 characters).
pub fn new_code() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The deep link that starts the bot with the code.
pub fn invite_link(bot_username: &str, code: &str) -> String {
    format!("https://t.me/{bot_username}?start={code}")
}

/// Creates the account if new and an invite for it.
pub async fn create_invite(
    store: &dyn Store,
    router: &RouterName,
    account: &AccountName,
    created_by: &str,
    ttl: Duration,
) -> Result<Invite, StoreError> {
    store.ensure_account(router, account).await?;
    let now = Utc::now();
    let invite = Invite {
        code: new_code(),
        router: router.clone(),
        account: account.clone(),
        created_by: created_by.to_owned(),
        created_at: now,
        expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
        used_at: None,
        used_by: None,
    };
    store.insert_invite(&invite).await?;
    store
        .audit(
            &AuditEntry::new(created_by, "invite.create")
                .router(router)
                .account(account)
                .detail(serde_json::json!({ "expires_at": invite.expires_at })),
        )
        .await?;
    Ok(invite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_fit_telegrams_start_parameter() {
        let a = new_code();
        assert_eq!(a.len(), 22);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, new_code());
        assert_eq!(
            invite_link("tgate_bot", "abc"),
            "https://t.me/tgate_bot?start=abc"
        );
    }
}
