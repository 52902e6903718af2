//! The Organisations API's domain crate: every Lambda function of the service links it.
//!
//! - [`domain`]: newtypes and rules, parsed once at the edge;
//! - [`storage`]: the single DynamoDB table (keys and access patterns in [`storage::keys`]);
//! - [`access`]: the one authorisation mechanism; [`auth`]: who the caller is;
//! - [`api`]: endpoint handlers; [`routes`]: the route table of the whole API;
//! - [`events`]: the consumer of other platform services' events (not HTTP);
//! - [`error`]: errors and their one mapping to HTTP; [`http`]: request/response helpers.

pub mod access;
pub mod api;
pub mod app;
pub mod auth;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod mail;
pub mod paging;
pub mod routes;
pub mod storage;
pub mod vat_revalidation;
pub mod vies;

pub use app::App;
pub use error::ApiError;
