//! The table and the routes are declared in several places; these tests keep them in step:
//! `shared::storage::schema` ↔ `template.yaml`, and `shared::routes::ROUTES` ↔ `template.yaml`
//! ↔ the `cargo lambda watch` router in `Cargo.toml`.

use std::collections::BTreeSet;

use api_tests::dynamodb::repo_root;
use serde_yaml::Value as Yaml;
use shared::routes::ROUTES;
use shared::storage::{keys, schema};

fn template() -> Yaml {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn resources(template: &Yaml) -> impl Iterator<Item = (&str, &Yaml)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or_default(), v))
}

fn strings(value: &Yaml, field: &str, inner: &str) -> BTreeSet<(String, String)> {
    value[field]
        .as_sequence()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| {
            (
                e["AttributeName"].as_str().unwrap_or_default().to_owned(),
                e[inner].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn template_table_matches_the_schema() {
    let template = template();
    let tables: Vec<&Yaml> = resources(&template)
        .filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table")
        .map(|(_, r)| &r["Properties"])
        .collect();
    assert_eq!(tables.len(), 1, "exactly one table");
    let table = tables[0];

    let mut attributes = BTreeSet::from([
        (keys::PK.to_owned(), "S".to_owned()),
        (keys::SK.to_owned(), "S".to_owned()),
    ]);
    for index in schema::INDEXES {
        attributes.insert((index.partition_key.to_owned(), "S".to_owned()));
        attributes.insert((index.sort_key.to_owned(), "S".to_owned()));
    }
    assert_eq!(
        strings(table, "AttributeDefinitions", "AttributeType"),
        attributes
    );
    assert_eq!(
        strings(table, "KeySchema", "KeyType"),
        BTreeSet::from([
            (keys::PK.to_owned(), "HASH".to_owned()),
            (keys::SK.to_owned(), "RANGE".to_owned())
        ])
    );
    let declared = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes");
    assert_eq!(declared.len(), schema::INDEXES.len());
    for index in schema::INDEXES {
        let gsi = declared
            .iter()
            .find(|g| g["IndexName"] == index.name)
            .unwrap_or_else(|| panic!("index {} in template.yaml", index.name));
        assert_eq!(
            strings(gsi, "KeySchema", "KeyType"),
            BTreeSet::from([
                (index.partition_key.to_owned(), "HASH".to_owned()),
                (index.sort_key.to_owned(), "RANGE".to_owned())
            ])
        );
        assert_eq!(gsi["Projection"]["ProjectionType"], index.projection);
    }
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        schema::TTL_ATTRIBUTE
    );
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
}

/// (method, path, function) of every HTTP route declared in template.yaml.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let template = template();
    let mut routes = BTreeSet::new();
    for (_, resource) in resources(&template) {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let function = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("every function names its binary")
            .to_owned();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values().filter(|e| e["Type"] == "HttpApi") {
            routes.insert((
                event["Properties"]["Method"].as_str().unwrap().to_owned(),
                event["Properties"]["Path"].as_str().unwrap().to_owned(),
                function.clone(),
            ));
        }
    }
    routes
}

fn route_table() -> BTreeSet<(String, String, String)> {
    ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.group.function_name().to_owned(),
            )
        })
        .collect()
}

#[test]
fn template_routes_match_the_route_table() {
    assert_eq!(template_routes(), route_table());
}

/// Routes the JWT authorizer does not guard in template.yaml are exactly those the route table
/// marks unauthenticated.
#[test]
fn only_unauthenticated_routes_skip_the_authorizer() {
    let template = template();
    let mut open = BTreeSet::new();
    for (_, resource) in resources(&template) {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values().filter(|e| e["Type"] == "HttpApi") {
            if event["Properties"]["Auth"]["Authorizer"] == "NONE" {
                open.insert(event["Properties"]["Path"].as_str().unwrap().to_owned());
            }
        }
    }
    let expected: BTreeSet<String> = ROUTES
        .iter()
        .filter(|r| !r.authenticated)
        .map(|r| r.path.to_owned())
        .collect();
    assert_eq!(open, expected);
    assert_eq!(
        template["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"],
        "PlatformJwt"
    );
}

/// The watch router cannot give one path segment two parameter names (DELETE uses
/// `{organisationIdentity}` where GET uses `{organisationSlug}`), so names are compared as `{}`.
fn anonymous(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn local_watch_router_matches_the_route_table() {
    let text = std::fs::read_to_string(repo_root().join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Value = toml::from_str(&text).expect("Cargo.toml is TOML");
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("[workspace.metadata.lambda.watch.router]");
    let mut local = BTreeSet::new();
    for (path, routes) in router {
        for route in routes.as_array().expect("a list of {method, function}") {
            local.insert((
                route["method"].as_str().unwrap().to_owned(),
                anonymous(path),
                route["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let expected: BTreeSet<_> = route_table()
        .into_iter()
        .map(|(m, p, f)| (m, anonymous(&p), f))
        .collect();
    assert_eq!(local, expected);
}

/// (method, path with anonymous parameters) of every operation in openapi.yaml.
fn openapi_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("openapi.yaml")).expect("openapi.yaml");
    let document: Yaml = serde_yaml::from_str(&text).expect("openapi.yaml is YAML");
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_mapping().expect("paths") {
        let path = path.as_str().expect("a path");
        for (method, _) in item.as_mapping().expect("a path item") {
            let method = method.as_str().unwrap_or_default();
            if ["get", "post", "patch", "put", "delete"].contains(&method) {
                routes.insert((method.to_uppercase(), anonymous(path)));
            }
        }
    }
    routes
}

#[test]
fn openapi_documents_exactly_the_route_table() {
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), anonymous(r.path)))
        .collect();
    assert_eq!(openapi_routes(), expected);
}

/// The EventBridge rule forwards exactly the events the consumer understands, and failures
/// are reported per message and end in the dead-letter queue.
#[test]
fn platform_events_rule_and_queue_match_the_consumer() {
    use shared::domain::platform::EventKind;
    let template = template();
    let resource = |name: &str| -> Yaml {
        resources(&template)
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} in template.yaml"))
            .1
            .clone()
    };
    let listed = |value: &Yaml| -> BTreeSet<String> {
        value
            .as_sequence()
            .expect("a list")
            .iter()
            .map(|v| v.as_str().expect("a string").to_owned())
            .collect()
    };
    let pattern = &resource("PlatformEventsRule")["Properties"]["EventPattern"];
    assert_eq!(
        listed(&pattern["source"]),
        EventKind::ALL
            .iter()
            .map(|k| k.source().to_owned())
            .collect()
    );
    assert_eq!(
        listed(&pattern["detail-type"]),
        EventKind::ALL
            .iter()
            .map(|k| k.detail_type().to_owned())
            .collect()
    );
    let function = resource("PlatformEventsFunction");
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "platform-events"
    );
    let source = &function["Properties"]["Events"]["PlatformEvents"]["Properties"];
    assert_eq!(
        listed(&source["FunctionResponseTypes"]),
        BTreeSet::from(["ReportBatchItemFailures".to_owned()])
    );
    let redrive = &resource("PlatformEventsQueue")["Properties"]["RedrivePolicy"];
    assert_eq!(redrive["maxReceiveCount"], 3);
}

/// Least privilege: no IAM statement of a function allows `*` actions or resources, and only
/// the function that mails may send mail.
#[test]
fn function_policies_name_their_actions_and_resources() {
    let template = template();
    for (name, resource) in resources(&template) {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let policies = resource["Properties"]["Policies"]
            .as_sequence()
            .expect("policies");
        for statement in policies
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
        {
            let actions: Vec<String> = match &statement["Action"] {
                Yaml::String(a) => vec![a.clone()],
                Yaml::Sequence(list) => list
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                other => panic!("{name}: unexpected Action {other:?}"),
            };
            assert!(!actions.is_empty(), "{name}: a statement without actions");
            for action in &actions {
                assert!(!action.contains('*'), "{name}: wildcard action {action}");
                if action.starts_with("ses:") {
                    assert_eq!(
                        name, "OrganisationsFunction",
                        "only the organisations function mails"
                    );
                }
            }
            assert_ne!(statement["Resource"], "*", "{name}: wildcard resource");
        }
    }
}
