//! The integration tests: one binary, one module per area. Every test talks to DynamoDB Local
//! (`DYNAMODB_ENDPOINT`, started by `make test`) through the functions' real handlers.

mod activity;
mod authorisation;
mod budgets;
mod contract;
mod conveniences;
mod deletion_sweep;
mod deploy;
mod doc_examples;
mod event_publisher;
mod fixtures;
mod least_privilege;
mod log_level;
mod mail_budgets;
mod members;
mod memberships;
mod metrics;
mod observability;
mod operators;
mod organisations;
mod plans;
mod platform_events;
mod resend;
mod resources;
mod unavailable;
mod validation;
mod vat_revalidation;
