//! The domain: values that have been validated once at the boundary and can be
//! trusted everywhere after, and the session state machine. Nothing here does
//! I/O, so all of it is unit tested beside the code.

mod names;
mod policy;
mod session;

pub use names::{
    AccountName, AddressListName, CallerId, Comment, InterfaceName, InvalidValue, ItemName,
    MacAddr, RouterName, Service,
};
pub use policy::ban_length;
pub use session::{SessionId, SessionState, Transition};
