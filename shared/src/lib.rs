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
//! - [`platform_events`], [`vat_revalidation`]: the functions that are not HTTP; [`producers`]: which
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
pub mod http;
pub mod mail;
pub mod metrics;
pub mod paging;
pub mod platform_events;
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
        ("platform_events", &["domain", "storage", "metrics"]),
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

    /// The modules of `domain/`, lower first: each may import only those before it.
    const DOMAIN_ORDER: &[&str] = &[
        "input",
        "username",
        "budgets",
        "vat",
        "ledger",
        "verification",
        "member",
        "organisation",
        "quotas",
        "activity",
        "records",
        "platform",
        "operator",
        "outbound",
        "change",
        "authorisation",
        "decisions",
        "memberships",
    ];

    /// The domain modules a line names: `crate::domain::<m>`, and `super::<m>` from a file
    /// directly in `domain/` (`super::super::<m>` from one a level deeper).
    fn domain_modules_named(line: &str, depth: usize) -> Vec<String> {
        let prefixes = ["crate::domain::".to_owned(), "super::".repeat(depth)];
        let mut named = Vec::new();
        for prefix in prefixes.iter().filter(|p| !p.is_empty()) {
            for (at, _) in line.match_indices(prefix.as_str()) {
                // `super::super::x` also contains `super::x`: only whole prefixes count.
                if line[..at].ends_with("super::") {
                    continue;
                }
                let name: String = line[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                named.push(name);
            }
        }
        named
    }

    #[test]
    fn domain_modules_import_only_lower_ones() {
        let domain = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let mut files = Vec::new();
        sources(&domain, &mut files);
        let rank = |m: &str| DOMAIN_ORDER.iter().position(|o| *o == m);
        let mut violations = BTreeSet::new();
        for (path, text) in files {
            let relative = path
                .trim_start_matches(&domain.display().to_string())
                .trim_start_matches('/')
                .to_owned();
            let module = relative.split(['/', '.']).next().unwrap_or_default();
            // `mod.rs` holds the newtypes every module uses, and imports none of them.
            let Some(own) = rank(module) else {
                assert_eq!(module, "mod", "{relative} is not in DOMAIN_ORDER");
                continue;
            };
            let depth = relative.matches('/').count() + 1;
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for used in domain_modules_named(line, depth) {
                    match rank(&used) {
                        Some(theirs) if theirs > own => {
                            violations.insert(format!("{relative} imports domain::{used}"));
                        }
                        _ => {}
                    }
                }
            }
        }
        assert!(violations.is_empty(), "{violations:#?}");
    }

    #[test]
    fn storage_does_not_decide() {
        let storage = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/storage");
        let mut files = Vec::new();
        sources(&storage, &mut files);
        for (path, text) in files {
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            assert!(
                !code.contains("domain::decisions"),
                "{path} imports the decisions: orchestration belongs to crate::access"
            );
        }
    }
}
