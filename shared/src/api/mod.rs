//! Endpoint handlers: parse at the edge, authorise, decide, write once.

pub mod activity;
pub mod email_resend;
pub mod idempotency;
pub mod members;
pub mod memberships;
pub mod operators;
pub mod organisations;
pub mod resources;
pub mod validation;
