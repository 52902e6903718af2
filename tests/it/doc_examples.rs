//! Every JSON example of docs/platform-events.md and docs/events.md goes through what it is an
//! example of: a platform event through the consumer's parser (and equals its fixture in
//! tests/events/), an outbound event's `detail` through its JSON Schema (docs/events/). A
//! producer who copies an example gets an event that is applied, not dead-lettered.

use api_tests::dynamodb::repo_root;
use api_tests::outbound::schema_errors;
use serde_json::{Map, Value};
use shared::domain::platform::PlatformEvent;

/// The ```json blocks of a document, each with the text before it.
fn json_blocks(document: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join(document)).expect("document");
    let mut blocks = Vec::new();
    let mut before = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```json\n") {
        before.push_str(&rest[..start]);
        let body = &rest[start + 8..];
        let end = body.find("```").expect("a closed block");
        blocks.push((before.clone(), body[..end].to_owned()));
        rest = &body[end + 3..];
    }
    assert!(!blocks.is_empty(), "{document} has JSON examples");
    blocks
}

/// The one JSON document of a block, or each line's when the block is one document per line.
fn documents(block: &str) -> Vec<Value> {
    serde_json::from_str(block).map_or_else(
        |_| {
            block
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        },
        |one| vec![one],
    )
}

/// The fixture's message body: the EventBridge event the function receives.
fn fixture_event(file: &str) -> Value {
    let path = repo_root().join("tests/events").join(file);
    let sqs: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON");
    serde_json::from_str(sqs["Records"][0]["body"].as_str().expect("a body")).expect("JSON body")
}

#[test]
fn platform_event_examples_parse_and_match_their_fixtures() {
    let blocks = json_blocks("docs/platform-events.md");
    let mut envelope: Option<Value> = None;
    let mut checked = 0;
    for (before, block) in blocks {
        for document in documents(&block) {
            let event = if document.get("detail-type").is_some() {
                envelope = Some(document.clone());
                document
            } else {
                // "The others differ in detail-type, source and detail": the line before the
                // block names them, `DetailType` (`source`, `fixture.json`).
                let heading = before.trim_end().lines().last().unwrap_or_default();
                let parts: Vec<&str> = heading.split('`').collect();
                assert!(
                    parts.len() >= 6,
                    "no `Type` (`source`, `file`) before {block}"
                );
                let mut event = envelope.clone().expect("the full example comes first");
                event["detail-type"] = Value::from(parts[1]);
                event["source"] = Value::from(parts[3]);
                event["detail"] = document;
                event
            };
            let parsed = PlatformEvent::parse(&event.to_string());
            assert!(
                parsed.is_ok(),
                "docs/platform-events.md: {parsed:?} for {event}"
            );
            let detail_type = event["detail-type"].as_str().unwrap_or_default();
            let file = format!("{}.json", kebab(detail_type));
            assert_eq!(
                fixture_event(&file)["detail"],
                event["detail"],
                "docs/platform-events.md's {detail_type} differs from tests/events/{file}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "one example per consumed detail type");
}

/// `ClusterCreated` -> `cluster-created`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[test]
fn outbound_event_examples_validate_against_their_schemas() {
    let blocks = json_blocks("docs/events.md");
    let mut common: Option<Map<String, Value>> = None;
    let mut checked = 0;
    for (_, block) in blocks {
        for document in documents(&block) {
            let detail_type = document["detail-type"]
                .as_str()
                .unwrap_or_else(|| panic!("docs/events.md: no detail-type in {document}"));
            if let Some(source) = document.get("source") {
                assert_eq!(source, "platform.organisations", "{document}");
            }
            let mut detail = document["detail"].as_object().cloned().expect("a detail");
            match &common {
                None => common = Some(detail.clone()),
                // "common fields as above": the first example's, where the line has none.
                Some(fields) => {
                    for (key, value) in fields {
                        if [
                            "eventId",
                            "organisationIdentity",
                            "organisationSlug",
                            "revision",
                        ]
                        .contains(&key.as_str())
                            || key == "occurredAt"
                            || key == "actor"
                        {
                            detail.entry(key.clone()).or_insert_with(|| value.clone());
                        }
                    }
                }
            }
            let errors = schema_errors(detail_type, &Value::Object(detail));
            assert!(
                errors.is_empty(),
                "docs/events.md {detail_type}: {errors:?} in {document}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 11, "{checked} examples");
}
