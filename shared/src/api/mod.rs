//! Endpoint handlers: parse at the edge, authorise, decide, write once.

pub mod members;
pub mod organisations;
