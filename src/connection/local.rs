//! The local connection. (being built)
