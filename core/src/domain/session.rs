//! The session state machine (SPEC §4). A session starts `pending`; exactly one
//! of confirm, deny, expire, close or fail ends the pending state, and a
//! confirmed session can still be closed. Storage applies a transition as one
//! conditional UPDATE on the expected current state, so racing processes agree
//! on a single winner.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::InvalidValue;

/// A session's id: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl SessionId {
    pub fn new() -> Self {
        SessionId(Uuid::now_v7())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SessionId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(SessionId).map_err(|_| InvalidValue {
            reason: "not a session id".into(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    Pending,
    Confirmed,
    Denied,
    Expired,
    Closed,
    Failed,
}

impl SessionState {
    pub const ALL: [SessionState; 6] = [
        SessionState::Pending,
        SessionState::Confirmed,
        SessionState::Denied,
        SessionState::Expired,
        SessionState::Closed,
        SessionState::Failed,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            SessionState::Pending => "pending",
            SessionState::Confirmed => "confirmed",
            SessionState::Denied => "denied",
            SessionState::Expired => "expired",
            SessionState::Closed => "closed",
            SessionState::Failed => "failed",
        }
    }

    /// A session is open while its PPP session may still be on the router
    /// with tgate's blessing or under tgate's question.
    pub fn is_open(&self) -> bool {
        matches!(self, SessionState::Pending | SessionState::Confirmed)
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionState {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| InvalidValue {
                reason: format!("unknown session state {s:?}"),
            })
    }
}

/// What happened to a session. Each names the states it may start from and
/// the one it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    Confirm,
    Deny,
    Expire,
    Close,
    Fail,
}

impl Transition {
    pub fn target(&self) -> SessionState {
        match self {
            Transition::Confirm => SessionState::Confirmed,
            Transition::Deny => SessionState::Denied,
            Transition::Expire => SessionState::Expired,
            Transition::Close => SessionState::Closed,
            Transition::Fail => SessionState::Failed,
        }
    }

    /// The states this transition may start from.
    pub fn sources(&self) -> &'static [SessionState] {
        match self {
            Transition::Close => &[SessionState::Pending, SessionState::Confirmed],
            _ => &[SessionState::Pending],
        }
    }

    pub fn allowed_from(&self, state: SessionState) -> bool {
        self.sources().contains(&state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pending_can_be_decided() {
        for t in [
            Transition::Confirm,
            Transition::Deny,
            Transition::Expire,
            Transition::Fail,
        ] {
            for s in SessionState::ALL {
                assert_eq!(
                    t.allowed_from(s),
                    s == SessionState::Pending,
                    "{t:?} from {s}"
                );
            }
        }
    }

    #[test]
    fn open_sessions_can_be_closed() {
        for s in SessionState::ALL {
            assert_eq!(
                Transition::Close.allowed_from(s),
                s.is_open(),
                "close from {s}"
            );
        }
    }

    #[test]
    fn states_round_trip_through_text() {
        for s in SessionState::ALL {
            assert_eq!(s.as_str().parse::<SessionState>().unwrap(), s);
        }
        assert!("confirmed ".parse::<SessionState>().is_err());
    }
}
