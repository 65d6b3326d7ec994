//! The local connection (`ansible_connection: local`). The transport itself lives in
//! `converge-modules` so that modules can be used from Rust on this machine without the CLI.

pub use converge_modules::local::LocalConnection;

use super::{Become, Connection};

impl Connection for LocalConnection {
    fn set_become(&mut self, become_as: Option<Become>) {
        LocalConnection::set_become(self, become_as);
    }
}
