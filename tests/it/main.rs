//! The integration tests: one binary, one module per area. Every test talks to DynamoDB Local
//! (`DYNAMODB_ENDPOINT`, started by `make test`) through the functions' real handlers.

mod activity;
mod authorisation;
mod budgets;
mod contract;
mod conveniences;
mod deletion_sweep;
mod event_publisher;
mod fixtures;
mod members;
mod metrics;
mod observability;
mod operators;
mod organisations;
mod plans;
mod platform_events;
mod resend;
mod resources;
mod validation;
mod vat_revalidation;
