//! Host transports: the local machine, and SSH (its own issue). Both implement
//! [`converge_modules::Host`] plus [`Connection`], which adds what only the runner needs.

pub mod local;
pub mod open;
pub mod simulated;
pub mod ssh;

use converge_modules::Host;

/// How to become another user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BecomeMethod {
    /// `sudo -u USER`.
    Sudo,
    /// `su USER -c`.
    Su,
}

/// A password kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Run as another user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    /// The target user (`root` by default).
    pub user: String,
    /// sudo or su.
    pub method: BecomeMethod,
    /// The password, sent on stdin when the method asks for one; never in argv or env.
    pub password: Option<Secret>,
}

/// A transport to one host, owned by the worker thread that serves that host.
pub trait Connection: Host + Send {
    /// Run later commands and file operations as this user; `None` runs as the login user.
    fn set_become(&mut self, become_as: Option<Become>);
}
