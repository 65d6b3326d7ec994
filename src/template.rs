//! Templates and expressions. (being built)
