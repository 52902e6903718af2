//! The table and the routes are declared in several places; these tests keep them in step:
//! `shared::storage::schema` ↔ `template.yaml`, and `shared::routes::ROUTES` ↔ `template.yaml`
//! ↔ the `cargo lambda watch` router in `Cargo.toml`.

use std::collections::{BTreeMap, BTreeSet};

use api_tests::dynamodb::repo_root;
use serde_yaml::Value as Yaml;
use shared::routes::ROUTES;
use shared::storage::{keys, schema};

pub(crate) fn template() -> Yaml {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

pub(crate) fn resources(template: &Yaml) -> impl Iterator<Item = (&str, &Yaml)> {
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

/// Routes whose group needs a scope (the operator plane) require it at the JWT authorizer in
/// template.yaml (`AuthorizationScopes`), and no other route requires any scope.
#[test]
fn scoped_routes_require_their_scope_at_the_authorizer() {
    let template = template();
    let mut scoped = BTreeSet::new();
    for (_, resource) in resources(&template) {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values().filter(|e| e["Type"] == "HttpApi") {
            let properties = &event["Properties"];
            let auth = &properties["Auth"];
            let Some(scopes) = auth["AuthorizationScopes"].as_sequence() else {
                continue;
            };
            assert_eq!(
                auth["Authorizer"], "OperatorJwt",
                "{:?}: scopes of the operators' own JWT authorizer",
                properties["Path"]
            );
            for scope in scopes {
                scoped.insert((
                    properties["Method"].as_str().unwrap().to_owned(),
                    properties["Path"].as_str().unwrap().to_owned(),
                    scope.as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    let expected: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .filter_map(|r| {
            r.group
                .required_scope()
                .map(|scope| (r.method.to_owned(), r.path.to_owned(), scope.to_owned()))
        })
        .collect();
    assert!(
        !expected.is_empty(),
        "the operator plane's routes need a scope"
    );
    assert_eq!(scoped, expected);
}

/// The operator plane has its own JWT authorizer (docs/security.md): its own audience
/// (`OperatorJwtAudience`), the customers' issuer unless `OperatorJwtIssuer` names another,
/// and the function learns the operator group (`OperatorGroup`) as `OPERATOR_GROUP`. Custom
/// scopes are granted per app client, so on the customers' authorizer a customer could ask
/// the console's client for the operator scope.
#[test]
fn the_operator_plane_has_its_own_authorizer_and_group() {
    let template = template();
    let authorizers = &resource(&template, "HttpApi")["Properties"]["Auth"]["Authorizers"];
    let operator = &authorizers["OperatorJwt"]["JwtConfiguration"];
    assert!(is_ref_to(&operator["audience"], "OperatorJwtAudience"));
    let Some(("If", Yaml::Sequence(branches))) = intrinsic(&operator["issuer"]) else {
        panic!(
            "the operators' issuer defaults to the customers': {:?}",
            operator["issuer"]
        );
    };
    assert!(is_ref_to(&branches[1], "OperatorJwtIssuer"));
    assert!(is_ref_to(&branches[2], "JwtIssuer"));
    assert_eq!(parameter(&template, "OperatorJwtIssuer")["Default"], "");
    assert!(parameter(&template, "OperatorJwtAudience")["Default"].is_null());
    assert_eq!(
        parameter(&template, "OperatorGroup")["Default"],
        shared::app::DEFAULT_OPERATOR_GROUP
    );
    let function = &resource(&template, "OperatorsFunction")["Properties"];
    assert!(is_ref_to(
        &function["Environment"]["Variables"]["OPERATOR_GROUP"],
        "OperatorGroup"
    ));
    for event in function["Events"].as_mapping().unwrap().values() {
        assert_eq!(event["Properties"]["Auth"]["Authorizer"], "OperatorJwt");
    }
    // No other route uses it.
    for (name, resource) in resources(&template).filter(|(n, _)| *n != "OperatorsFunction") {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values() {
            assert_ne!(
                event["Properties"]["Auth"]["Authorizer"], "OperatorJwt",
                "{name}"
            );
        }
    }
}

/// Only the stack's rule may put messages on the platform-events queue: an explicit Deny of
/// `sqs:SendMessage` to every principal unless `aws:SourceArn` is the rule, so that nobody with
/// `sqs:*` in an IAM policy can inject events.
#[test]
fn only_the_rule_sends_to_the_platform_events_queue() {
    let template = template();
    let policy = &resource(&template, "PlatformEventsQueuePolicy")["Properties"];
    let statements = policy["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements");
    let rule_arn = |value: &Yaml| matches!(intrinsic(value), Some(("GetAtt", target)) if target == "PlatformEventsRule.Arn");
    assert!(statements.iter().any(|s| s["Effect"] == "Deny"
        && s["Principal"] == "*"
        && s["Action"] == "sqs:SendMessage"
        && rule_arn(&s["Condition"]["ArnNotEquals"]["aws:SourceArn"])));
    for allowed in statements.iter().filter(|s| s["Effect"] == "Allow") {
        assert_eq!(allowed["Principal"]["Service"], "events.amazonaws.com");
        assert!(rule_arn(
            &allowed["Condition"]["ArnEquals"]["aws:SourceArn"]
        ));
    }
    // The consumer knows the producer accounts too (PLATFORM_EVENT_PRODUCER_ACCOUNTS).
    let variables =
        &resource(&template, "PlatformEventsFunction")["Properties"]["Environment"]["Variables"];
    let Some(("Join", Yaml::Sequence(join))) =
        intrinsic(&variables["PLATFORM_EVENT_PRODUCER_ACCOUNTS"])
    else {
        panic!("PLATFORM_EVENT_PRODUCER_ACCOUNTS joins PlatformEventProducerAccounts");
    };
    assert!(is_ref_to(&join[1], "PlatformEventProducerAccounts"));
}

/// A path with its parameters' names dropped: `/a/{x}/b` -> `/a/{}/b`.
fn anonymous(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// (method, path, function) of every route of the `cargo lambda watch` router in Cargo.toml.
fn watch_routes() -> BTreeSet<(String, String, String)> {
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
                path.clone(),
                route["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    local
}

#[test]
fn local_watch_router_matches_the_route_table() {
    assert_eq!(watch_routes(), route_table());
}

/// (method, path) of every operation in openapi.yaml.
fn openapi_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("openapi.yaml")).expect("openapi.yaml");
    let document: Yaml = serde_yaml::from_str(&text).expect("openapi.yaml is YAML");
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_mapping().expect("paths") {
        let path = path.as_str().expect("a path");
        for (method, _) in item.as_mapping().expect("a path item") {
            let method = method.as_str().unwrap_or_default();
            if ["get", "post", "patch", "put", "delete"].contains(&method) {
                routes.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    routes
}

#[test]
fn openapi_documents_exactly_the_route_table() {
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(openapi_routes(), expected);
}

/// Each hierarchical level of a path (its literal segments before, parameters as `{}`) whose
/// parameter has more than one name among `paths`, with the names.
fn path_variable_conflicts<'a>(
    paths: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in paths {
        let segments: Vec<&str> = path.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            if segment.starts_with('{') {
                let level = format!("{}/{{}}", anonymous(&segments[..i].join("/")));
                names
                    .entry(level)
                    .or_default()
                    .insert((*segment).to_owned());
            }
        }
    }
    names.retain(|_, n| n.len() > 1);
    names
}

/// API Gateway refuses an HTTP API whose routes give one position two variable names
/// (ConflictException: "conflicting variable on the same hierarchical level"); the local router
/// and openapi.yaml follow the same rule.
#[test]
fn one_path_variable_name_per_position() {
    let template = template_routes();
    let table = route_table();
    let watch = watch_routes();
    let openapi = openapi_routes();
    let paths = template
        .iter()
        .chain(&table)
        .chain(&watch)
        .map(|(_, p, _)| p.as_str())
        .chain(openapi.iter().map(|(_, p)| p.as_str()));
    let conflicts = path_variable_conflicts(paths);
    assert!(
        conflicts.is_empty(),
        "two names at one position: {conflicts:?}"
    );

    // The check itself: the pair the first deploy failed on.
    assert_eq!(
        path_variable_conflicts([
            "/api/v1/organisations/{organisationIdentity}",
            "/api/v1/organisations/{organisationSlug}/members",
            "/api/v1/compute-information/organisation/{organisationSlug}",
        ])
        .into_keys()
        .collect::<Vec<_>>(),
        ["/api/v1/organisations/{}"]
    );
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
                // Not IAM actions: each item of a transaction is authorised as the PutItem,
                // UpdateItem, DeleteItem, ConditionCheckItem (or GetItem) it is.
                assert!(
                    !action.starts_with("dynamodb:Transact"),
                    "{name}: {action} is not an IAM action"
                );
                if action.starts_with("ses:") {
                    assert!(
                        MAILING_FUNCTIONS.contains(&name),
                        "{name}: only {MAILING_FUNCTIONS:?} mail"
                    );
                }
            }
            assert_ne!(statement["Resource"], "*", "{name}: wildcard resource");
        }
    }
}

// --- the template as AWS deploys it -------------------------------------------------------

/// The intrinsic function a value is, in either notation: `!Sub x` or `{"Fn::Sub": x}`, `!Ref x`
/// or `{"Ref": x}`. Returns its name without `Fn::` and its argument.
pub(crate) fn intrinsic(value: &Yaml) -> Option<(&str, &Yaml)> {
    const SHORT_FORMS: &[&str] = &[
        "Ref",
        "Sub",
        "GetAtt",
        "Join",
        "Split",
        "Select",
        "If",
        "Not",
        "Equals",
        "And",
        "Or",
        "Condition",
        "FindInMap",
        "ImportValue",
        "Base64",
        "Cidr",
        "GetAZs",
    ];
    match value {
        Yaml::Tagged(tagged) => SHORT_FORMS
            .iter()
            .find(|name| tagged.tag == **name)
            .map(|name| (*name, &tagged.value)),
        Yaml::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key.starts_with("Fn::"))
                .then(|| (key.trim_start_matches("Fn::"), argument))
        }
        _ => None,
    }
}

/// `!Ref name` of a parameter or resource.
pub(crate) fn is_ref_to(value: &Yaml, name: &str) -> bool {
    matches!(intrinsic(value), Some(("Ref", target)) if target == name)
}

pub(crate) fn parameter<'a>(template: &'a Yaml, name: &str) -> &'a Yaml {
    let parameter = &template["Parameters"][name];
    assert!(parameter.is_mapping(), "parameter {name} in template.yaml");
    parameter
}

pub(crate) fn resource<'a>(template: &'a Yaml, name: &str) -> &'a Yaml {
    let resource = &template["Resources"][name];
    assert!(resource.is_mapping(), "resource {name} in template.yaml");
    resource
}

/// Whether a name property's value is `!Sub "...${AWS::StackName}..."` (or a `!Join` with
/// `!Ref AWS::StackName`), so that two stacks in one account and region never collide.
fn derives_from_stack_name(value: &Yaml) -> bool {
    match intrinsic(value) {
        Some(("Sub", Yaml::String(text))) => text.contains("${AWS::StackName}"),
        Some(("Sub", Yaml::Sequence(args))) => args
            .first()
            .and_then(Yaml::as_str)
            .is_some_and(|text| text.contains("${AWS::StackName}")),
        Some(("Join", Yaml::Sequence(args))) => args
            .get(1)
            .and_then(Yaml::as_sequence)
            .is_some_and(|parts| parts.iter().any(|p| is_ref_to(p, "AWS::StackName"))),
        _ => false,
    }
}

/// Properties ending in `Name` that do not name the resource itself in the account.
const NOT_OWN_NAMES: &[&str] = &[
    // what an alarm measures
    "MetricName",
    // an HTTP API's stage, scoped to the API
    "StageName",
    // the bus a rule listens on
    "EventBusName",
    // the optional custom domain: the operator's own DNS name, one per stack by nature
    "DomainName",
];

/// Every explicitly given name of a resource (a `...Name` property, or the `Name` of a SAM
/// function's event that SAM turns into a resource) that does not derive from the stack name:
/// a literal, or a parameter. References to other resources of the template are not names.
fn names_not_derived_from_the_stack(template: &Yaml) -> Vec<String> {
    let resource_names: BTreeSet<&str> = resources(template).map(|(n, _)| n).collect();
    let acceptable = |value: &Yaml| {
        derives_from_stack_name(value)
            || matches!(intrinsic(value), Some(("GetAtt", _)))
            || matches!(intrinsic(value), Some(("Ref", Yaml::String(target))) if resource_names.contains(target.as_str()))
    };
    let mut found = Vec::new();
    for (name, resource) in resources(template) {
        let Some(properties) = resource["Properties"].as_mapping() else {
            continue;
        };
        for (key, value) in properties {
            let key = key.as_str().unwrap_or_default();
            if key.ends_with("Name") && !NOT_OWN_NAMES.contains(&key) && !acceptable(value) {
                found.push(format!("{name}.{key} = {value:?}"));
            }
        }
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (event, definition) in events {
            let event = event.as_str().unwrap_or_default();
            let given = &definition["Properties"]["Name"];
            // SAM names a ScheduleV2 schedule after its logical id unless told otherwise.
            if definition["Type"] == "ScheduleV2" && given.is_null() {
                found.push(format!(
                    "{name}.Events.{event}: no Name (SAM would use {name}{event})"
                ));
            } else if !given.is_null() && !acceptable(given) {
                found.push(format!("{name}.Events.{event}.Name = {given:?}"));
            }
        }
    }
    found
}

/// A second stack (staging beside production) in the same account and region deploys: every
/// explicit name derives from `AWS::StackName`.
#[test]
fn explicit_names_derive_from_the_stack_name() {
    assert_eq!(
        names_not_derived_from_the_stack(&template()),
        Vec::<String>::new()
    );

    // The check itself, on the schedule that collided and on a literal name.
    let collides: Yaml = serde_yaml::from_str(
        r#"
Parameters: {Table: {Type: String}}
Resources:
  Job:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-job
      Events:
        Daily: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 day)}}
  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: platform-events}}
  Items: {Type: AWS::DynamoDB::Table, Properties: {TableName: !Ref Table}}
"#,
    )
    .unwrap();
    assert_eq!(names_not_derived_from_the_stack(&collides).len(), 3);
}

/// Metric math of every alarm reads each metric only through `FILL(m, 0)`: a function that was
/// not invoked, or an idle queue, publishes no data, and no data must count as zero.
#[test]
fn alarms_fill_sparse_metrics_with_zero() {
    let template = template();
    let alarms: Vec<(&str, &Yaml)> = resources(&template)
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    assert!(!alarms.is_empty());
    for (name, alarm) in alarms {
        let properties = &alarm["Properties"];
        assert!(
            properties["MetricName"].is_null(),
            "{name}: a single-metric alarm cannot fill missing data; use Metrics with FILL"
        );
        let metrics = properties["Metrics"].as_sequence().expect("Metrics");
        let ids: Vec<&str> = metrics
            .iter()
            .filter(|m| !m["MetricStat"].is_null())
            .map(|m| m["Id"].as_str().expect("an Id"))
            .collect();
        let expressions: Vec<&str> = metrics
            .iter()
            .filter_map(|m| m["Expression"].as_str())
            .collect();
        assert!(!ids.is_empty() && !expressions.is_empty(), "{name}");
        for id in &ids {
            let filled = format!("FILL({id}, 0)");
            assert!(
                expressions.iter().any(|e| e.contains(&filled)),
                "{name}: {id} is not read through {filled}"
            );
            for expression in &expressions {
                let rest = expression.replace(&filled, "");
                assert!(
                    !rest
                        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                        .any(|token| token == *id),
                    "{name}: {expression} reads {id} without FILL"
                );
            }
        }
    }
}

/// Platform events come from the platform only: a bus of the stack's own, which only the
/// configured producer principals may put events on, and a rule that also filters on the
/// account EventBridge stamps on each event.
#[test]
fn platform_events_come_from_configured_producers_only() {
    let template = template();
    // One principal list per event source: the monitoring role cannot put payments' events.
    let sources = [
        ("platform.clusters", "ClustersEventProducerPrincipals"),
        (
            "platform.cloud-accounts",
            "CloudAccountsEventProducerPrincipals",
        ),
        ("platform.monitoring", "MonitoringEventProducerPrincipals"),
        ("platform.payments", "PaymentsEventProducerPrincipals"),
        ("platform.operators", "OperatorsEventProducerPrincipals"),
    ];
    assert_eq!(
        sources
            .iter()
            .map(|(s, _)| s.to_string())
            .collect::<BTreeSet<_>>(),
        shared::domain::platform::EventKind::ALL
            .iter()
            .map(|k| k.source().to_owned())
            .collect()
    );
    for name in std::iter::once("PlatformEventProducerAccounts").chain(sources.map(|(_, p)| p)) {
        assert!(
            parameter(&template, name)["Default"].is_null(),
            "{name} has no default: the operator names the producers"
        );
    }
    let bus = resource(&template, "PlatformEventBus");
    assert_eq!(bus["Type"], "AWS::Events::EventBus");
    assert!(derives_from_stack_name(&bus["Properties"]["Name"]));

    let statements = bus["Properties"]["Policy"]["Statement"]
        .as_sequence()
        .expect("the bus has a resource policy");
    let principals = |statement: &Yaml, operator: &str| -> Option<String> {
        match intrinsic(&statement["Condition"][operator]["aws:PrincipalArn"]) {
            Some(("Ref", Yaml::String(name))) => Some(name.clone()),
            _ => None,
        }
    };
    let source = |statement: &Yaml| {
        statement["Condition"]["StringEquals"]["events:source"]
            .as_str()
            .map(str::to_owned)
    };
    let mut allowed = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for statement in statements {
        assert_eq!(statement["Action"], "events:PutEvents", "{statement:?}");
        if statement["Effect"] == "Allow" {
            assert!(
                is_ref_to(
                    &statement["Principal"]["AWS"],
                    "PlatformEventProducerAccounts"
                ),
                "only the producer accounts are allowed: {statement:?}"
            );
            let source = source(statement).expect("an Allow names its one source");
            let who = principals(statement, "ArnLike").expect("an Allow names its principals");
            allowed.insert((source, who));
        } else if let Some(source) = source(statement) {
            assert_eq!(statement["Principal"], "*");
            let who = principals(statement, "ArnNotLike").expect("a Deny names the others");
            denied.insert((source, who));
        }
    }
    let expected: BTreeSet<(String, String)> = sources
        .iter()
        .map(|(s, p)| (s.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        allowed, expected,
        "each source allowed to its own principals only"
    );
    assert_eq!(
        denied, expected,
        "each source denied to every other principal"
    );
    let other_sources = statements
        .iter()
        .find(|s| s["Effect"] == "Deny" && s["Condition"]["StringNotEquals"].is_mapping())
        .expect("a Deny of every other source");
    assert_eq!(other_sources["Principal"], "*");
    let listed: BTreeSet<String> = other_sources["Condition"]["StringNotEquals"]["events:source"]
        .as_sequence()
        .expect("the sources")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, sources.iter().map(|(s, _)| s.to_string()).collect());

    for (name, rule) in resources(&template).filter(|(_, r)| r["Type"] == "AWS::Events::Rule") {
        assert!(
            is_ref_to(&rule["Properties"]["EventBusName"], "PlatformEventBus"),
            "{name} listens on the platform bus, not the default one"
        );
        assert!(
            is_ref_to(
                &rule["Properties"]["EventPattern"]["account"],
                "PlatformEventProducerAccounts"
            ),
            "{name} filters on account"
        );
    }
    let outputs = &template["Outputs"];
    assert!(is_ref_to(
        &outputs["PlatformEventBusName"]["Value"],
        "PlatformEventBus"
    ));
    assert!(matches!(
        intrinsic(&outputs["PlatformEventBusArn"]["Value"]),
        Some(("GetAtt", target)) if target == "PlatformEventBus.Arn"
    ));
}

/// A throttling limit's parameter default.
fn default_limit(template: &Yaml, value: &Yaml) -> f64 {
    let Some(("Ref", Yaml::String(name))) = intrinsic(value) else {
        panic!("a limit is a parameter: {value:?}");
    };
    let limit = parameter(template, name)["Default"]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} has a numeric default"));
    assert!(limit > 0.0, "{name}");
    limit
}

/// Stage-wide throttling, a stricter limit on every route without a token, and JSON access
/// logs with the fields an investigation needs, in a log group that expires.
#[test]
fn the_api_is_throttled_and_logs_every_request() {
    let template = template();
    let api = &resource(&template, "HttpApi")["Properties"];
    let defaults = &api["DefaultRouteSettings"];
    let burst = default_limit(&template, &defaults["ThrottlingBurstLimit"]);
    let rate = default_limit(&template, &defaults["ThrottlingRateLimit"]);

    let route_keys: BTreeSet<String> = route_table()
        .into_iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    let settings = api["RouteSettings"].as_mapping().expect("RouteSettings");
    for key in settings.keys() {
        let key = key.as_str().unwrap();
        assert!(
            route_keys.contains(key),
            "route settings for no route: {key}"
        );
    }
    // Every route without a token has its own limits, no higher than the default. They are
    // shared by all its callers: the verify-email routes' (their codes are 256-bit, so no limit
    // is what keeps them from being guessed) are at burst 100 / rate 50, so that one anonymous
    // client cannot use them all up and deny every customer's links (docs/deploy.md).
    for route in ROUTES.iter().filter(|r| !r.authenticated) {
        let key = format!("{} {}", route.method, route.path);
        let limits = &api["RouteSettings"][key.as_str()];
        assert!(limits.is_mapping(), "{key} has its own limits");
        let route_burst = default_limit(&template, &limits["ThrottlingBurstLimit"]);
        let route_rate = default_limit(&template, &limits["ThrottlingRateLimit"]);
        assert!(route_burst <= burst && route_rate <= rate, "{key}");
        if route.path.starts_with("/api/v1/validations/verify-email/") {
            assert!(route_burst >= 100.0 && route_rate >= 50.0, "{key}");
        }
    }

    let logs = &api["AccessLogSettings"];
    let Some(("GetAtt", Yaml::String(target))) = intrinsic(&logs["DestinationArn"]) else {
        panic!("access logs go to a log group of the stack");
    };
    let group = resource(&template, target.trim_end_matches(".Arn"));
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert!(
        !group["Properties"]["RetentionInDays"].is_null(),
        "access logs expire"
    );

    let format = logs["Format"].as_str().expect("a format");
    // The route key, never the path: an e-mail link's path holds its verification code.
    for leaky in [
        "$context.path",
        "$context.resourcePath",
        "$context.requestUri",
    ] {
        assert!(
            !format.contains(leaky),
            "access logs must not record {leaky}"
        );
    }
    for variable in [
        "$context.requestId",
        "$context.identity.sourceIp",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationLatency",
        "$context.authorizer.error",
        "$context.integrationErrorMessage",
    ] {
        assert!(format.contains(variable), "access logs record {variable}");
    }
    // Each `$context.x` stands for its value; what API Gateway writes is then one JSON object.
    let mut sample = String::new();
    let mut rest = format;
    while let Some(at) = rest.find("$context.") {
        sample.push_str(&rest[..at]);
        let after = &rest[at + "$context.".len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '.')
            .unwrap_or(after.len());
        let variable = &after[..end];
        // `...String` variables are written quoted, the others as they are.
        sample.push_str(if variable.ends_with("String") {
            "\"v\""
        } else {
            "v"
        });
        rest = &after[end..];
    }
    sample.push_str(rest);
    let line: serde_json::Value = serde_json::from_str(&sample)
        .unwrap_or_else(|e| panic!("the access log format is not JSON ({e}): {sample}"));
    for field in [
        "requestId",
        "sourceIp",
        "routeKey",
        "status",
        "responseLatency",
    ] {
        assert!(!line[field].is_null(), "access logs have {field}");
    }
}

/// CORS is a parameter, off by default: the API's CorsConfiguration exists only under a
/// condition that is false for the parameter's default.
#[test]
fn cors_is_off_unless_origins_are_configured() {
    let template = template();
    let origins = parameter(&template, "CorsAllowedOrigins");
    assert_eq!(origins["Default"], "");
    let cors = &resource(&template, "HttpApi")["Properties"]["CorsConfiguration"];
    let Some(("If", Yaml::Sequence(branches))) = intrinsic(cors) else {
        panic!("CorsConfiguration is !If [condition, configuration, !Ref AWS::NoValue]");
    };
    assert!(is_ref_to(&branches[2], "AWS::NoValue"));
    assert!(
        !format!("{:?}", branches[1]).contains('*'),
        "no wildcard origin"
    );
    let condition = &template["Conditions"][branches[0].as_str().expect("a condition")];
    let Some(("Not", Yaml::Sequence(not))) = intrinsic(condition) else {
        panic!("the condition is !Not [!Equals [!Ref CorsAllowedOrigins, \"\"]]");
    };
    let Some(("Equals", Yaml::Sequence(equals))) = intrinsic(&not[0]) else {
        panic!("the condition is !Not [!Equals [!Ref CorsAllowedOrigins, \"\"]]");
    };
    assert!(is_ref_to(&equals[0], "CorsAllowedOrigins") && equals[1] == "");
}

/// Every mapping key anywhere in a YAML value.
fn keys(value: &Yaml, found: &mut Vec<String>) {
    match value {
        Yaml::Mapping(map) => {
            for (k, v) in map {
                if let Some(k) = k.as_str() {
                    found.push(k.to_owned());
                }
                keys(v, found);
            }
        }
        Yaml::Sequence(list) => list.iter().for_each(|v| keys(v, found)),
        Yaml::Tagged(tagged) => keys(&tagged.value, found),
        _ => {}
    }
}

/// The local bearer-token verifier is for development only; in AWS the authorizer verifies
/// tokens, and a function that finds `LOCAL_JWT_SECRET` in the Lambda service refuses to start.
#[test]
fn template_never_configures_the_local_token_verifier() {
    let mut found = Vec::new();
    keys(&template(), &mut found);
    let local: Vec<&String> = found
        .iter()
        .filter(|k| k.starts_with("LOCAL_JWT"))
        .collect();
    assert!(local.is_empty(), "template.yaml sets {local:?}");
}

/// The functions that send mail: create and PATCH issue codes, the resend route replaces them;
/// adding a member and re-sending an invitation mail the invitation.
const MAILING_FUNCTIONS: [&str; 3] = [
    "OrganisationsFunction",
    "ValidationFunction",
    "MembersFunction",
];

/// Mail is sent as the operator's SES identity (a parameter), by the functions that issue codes
/// only.
#[test]
fn mail_is_sent_as_the_configured_identity() {
    let template = template();
    assert!(parameter(&template, "MailIdentity")["Default"].is_null());
    for name in MAILING_FUNCTIONS {
        mails_as_the_configured_identity(&template, name);
    }
}

fn mails_as_the_configured_identity(template: &Yaml, name: &str) {
    let function = &resource(template, name)["Properties"];
    assert!(is_ref_to(
        &function["Environment"]["Variables"]["MAIL_FROM"],
        "MailFrom"
    ));
    let statements: Vec<Yaml> = function["Policies"]
        .as_sequence()
        .expect("policies")
        .iter()
        .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
        .filter(|s| s["Action"] == "ses:SendEmail")
        .collect();
    assert_eq!(statements.len(), 1);
    let Some(("Sub", Yaml::String(arn))) = intrinsic(&statements[0]["Resource"]) else {
        panic!("the SES resource is an identity ARN");
    };
    assert!(arn.ends_with(":identity/${MailIdentity}"), "{arn}");
}

/// Outbound events (docs/events.md): the table's stream is the one `schema` creates, and the
/// event-publisher's event source mapping passes what the local pump passes
/// (`devtools::stream::passes_filter`: insertions of the items that publish), reports failed
/// records, splits failing batches, retries a bounded number of times into an on-failure queue,
/// and puts on the service's own bus, not the platform's.
#[test]
fn the_event_publisher_reads_the_stream_the_table_declares() {
    let template = template();
    let table = &resource(&template, "OrganisationsTable")["Properties"];
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"],
        schema::STREAM_VIEW_TYPE
    );
    let function = &resource(&template, "EventPublisherFunction")["Properties"];
    let variables = &function["Environment"]["Variables"];
    assert_eq!(variables["EVENT_SOURCE"], shared::publisher::DEFAULT_SOURCE);
    assert!(is_ref_to(
        &variables["EVENT_BUS_NAME"],
        "OrganisationsEventBus"
    ));
    let mapping = &function["Events"]["TableStream"];
    assert_eq!(mapping["Type"], "DynamoDB");
    let properties = &mapping["Properties"];
    assert_eq!(
        properties["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );
    assert_eq!(properties["BisectBatchOnFunctionError"], true);
    let retries = properties["MaximumRetryAttempts"]
        .as_u64()
        .expect("bounded retries");
    assert!((1..=100).contains(&retries));
    assert_eq!(properties["DestinationConfig"]["OnFailure"]["Type"], "SQS");
    assert_eq!(
        properties["BatchSize"].as_u64(),
        Some(devtools::stream::BATCH_SIZE as u64)
    );
    let filters = properties["FilterCriteria"]["Filters"]
        .as_sequence()
        .expect("filters");
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value =
        serde_json::from_str(filters[0]["Pattern"].as_str().expect("a pattern")).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({
            "eventName": ["INSERT"],
            "dynamodb": {"NewImage": {"entity": {"S": shared::storage::entities::PUBLISHED_ENTITIES}}}
        })
    );
    // The same filter, applied by the pump.
    for (event_name, entity, passes) in [
        ("INSERT", "activity", true),
        ("INSERT", "deletion", true),
        ("MODIFY", "activity", false),
        ("REMOVE", "deletion", false),
        ("INSERT", "organisation", false),
        ("INSERT", "member", false),
    ] {
        let record = serde_json::json!({
            "eventName": event_name,
            "dynamodb": {"NewImage": {"entity": {"S": entity}}}
        });
        assert_eq!(
            devtools::stream::passes_filter(&record),
            passes,
            "{event_name} {entity}"
        );
    }
    // Its own bus: a different resource from the platform's, named after the stack.
    assert!(resource(&template, "OrganisationsEventBus")["Type"] == "AWS::Events::EventBus");
    for output in ["OrganisationsEventBusName", "OrganisationsEventBusArn"] {
        assert!(template["Outputs"][output].is_mapping(), "output {output}");
    }
    for alarm in [
        "EventPublisherFailureAlarm",
        "EventPublisherIteratorAgeAlarm",
    ] {
        assert_eq!(resource(&template, alarm)["Type"], "AWS::CloudWatch::Alarm");
    }
}
