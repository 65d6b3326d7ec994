//! Host transports: the local machine, and SSH (its own issue). Both implement
//! [`converge_modules::Host`] plus [`Connection`], which adds what only the runner needs.

pub mod local;
pub mod open;
pub mod simulated;
pub mod ssh;

use converge_modules::Host;

pub use converge_modules::host::{Become, BecomeMethod, Secret};

/// A transport to one host, owned by the worker thread that serves that host.
pub trait Connection: Host + Send {
    /// Run later commands and file operations as this user; `None` runs as the login user.
    fn set_become(&mut self, become_as: Option<Become>);
}
