//! The Organisations API's domain crate: every Lambda function of the service links it.
//! The layers, and what each may import, are in `docs/architecture.md`; `layers` below
//! enforces them.
//!
//! - [`domain`]: newtypes, rules and the pure decisions of every change; imports nothing else;
//! - [`storage`]: the single DynamoDB table; the one write path ([`storage::write`]);
//! - [`error`]: errors; [`http`]: reading requests, rendering responses and errors;
//! - [`auth`]: who the caller is; [`access`]: authenticate and authorise an organisation request;
//! - [`mail`], [`vies`]: the outside services; [`app`]: what a function builds at cold start;
//! - [`aws`]: the AWS SDK's configuration, from the environment;
//! - [`api`]: endpoint handlers; [`routes`]: the route table of the whole API;
//! - [`events`], [`vat_revalidation`]: the functions that are not HTTP; [`producers`]: which
//!   accounts may produce platform events;
//! - [`publisher`]: the outbound events, published from the table's stream (docs/events.md);
//! - [`metrics`]: CloudWatch embedded metric format lines (docs/observability.md).

pub mod access;
pub mod api;
pub mod app;
pub mod auth;
pub mod aws;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod paging;
pub mod producers;
pub mod publisher;
pub mod routes;
pub mod storage;
pub mod vat_revalidation;
pub mod vies;

pub use app::App;
pub use error::ApiError;

#[cfg(test)]
mod layers {
    //! The module graph is layered: each module may import only the modules listed for it
    //! (and itself), so there is no cycle. Read from the sources' `crate::` paths.

    use std::collections::BTreeSet;
    use std::path::Path;

    /// Module → the modules of this crate it may import. Lower layers first. `metrics` (the
    /// EMF lines) imports nothing of the crate, so any layer but the pure domain may use it.
    const ALLOWED: &[(&str, &[&str])] = &[
        ("domain", &[]),
        ("aws", &[]),
        ("metrics", &[]),
        ("storage", &["domain", "metrics"]),
        ("mail", &["domain", "metrics"]),
        ("vies", &["domain", "metrics"]),
        ("error", &["domain", "storage"]),
        ("http", &["domain", "error"]),
        ("paging", &["domain", "error"]),
        ("routes", &["domain", "error", "http"]),
        ("auth", &["domain", "error"]),
        ("producers", &["metrics"]),
        (
            "app",
            &[
                "domain",
                "storage",
                "auth",
                "mail",
                "vies",
                "http",
                "routes",
                "metrics",
                "aws",
                "producers",
            ],
        ),
        (
            "access",
            &["domain", "error", "app", "auth", "routes", "storage"],
        ),
        ("events", &["domain", "storage", "metrics"]),
        ("vat_revalidation", &["domain", "storage", "app"]),
        ("publisher", &["domain", "storage", "metrics", "aws"]),
        (
            "api",
            &[
                "domain", "storage", "error", "http", "paging", "routes", "auth", "access", "app",
                "mail", "metrics",
            ],
        ),
    ];

    fn sources(dir: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }

    #[test]
    fn modules_import_only_lower_layers() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut violations = BTreeSet::new();
        for (path, text) in files {
            let relative = path
                .trim_start_matches(&src.display().to_string())
                .trim_start_matches('/');
            let module = relative.split(['/', '.']).next().unwrap_or_default();
            let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| *m == module) else {
                continue;
            };
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices("crate::") {
                    let used: String = line[at + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if used != module && !allowed.contains(&used.as_str()) {
                        violations.insert(format!("{relative} imports crate::{used}"));
                    }
                }
                if module != "storage" && line.contains("aws_sdk_dynamodb") {
                    violations.insert(format!("{relative} names the DynamoDB SDK"));
                }
            }
        }
        assert!(violations.is_empty(), "{violations:#?}");
    }
}
