//! The stack's first deploy and the days after it, checked on `template.yaml` and
//! its documents: browsers' headers, nothing lost on delete or delivery failure, schedules run
//! once, alarms per function, concurrency limits, the optional custom domain.

use serde_yaml::Value as Yaml;

use crate::contract::{intrinsic, is_ref_to, parameter, resource, resources, template};
use api_tests::dynamodb::repo_root;

fn names(value: &Yaml) -> Vec<&str> {
    value
        .as_sequence()
        .map(|list| list.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default()
}

/// `!If [condition, then, else]`: its three parts.
fn if_branches(value: &Yaml) -> (&str, &Yaml, &Yaml) {
    let Some(("If", Yaml::Sequence(parts))) = intrinsic(value) else {
        panic!("not an !If: {value:?}");
    };
    (
        parts[0].as_str().expect("a condition"),
        &parts[1],
        &parts[2],
    )
}

fn functions(template: &Yaml) -> Vec<(&str, &Yaml)> {
    resources(template)
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .collect()
}

/// With `CorsAllowedOrigins` set, browsers may send the conditional and retry headers and read
/// the answers' tags, retry hints, request ids, replays and locations.
#[test]
fn cors_allows_and_exposes_the_api_headers() {
    let template = template();
    let cors = &resource(&template, "HttpApi")["Properties"]["CorsConfiguration"];
    let (_, configuration, _) = if_branches(cors);
    let allowed = names(&configuration["AllowHeaders"]);
    for header in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "idempotency-key",
        "x-request-id",
    ] {
        assert!(allowed.contains(&header), "AllowHeaders lacks {header}");
    }
    let exposed = names(&configuration["ExposeHeaders"]);
    for header in [
        "etag",
        "retry-after",
        "x-request-id",
        "idempotent-replayed",
        "location",
    ] {
        assert!(exposed.contains(&header), "ExposeHeaders lacks {header}");
    }
}

/// The queues that hold what could not be applied or published outlive the stack and a
/// replacement; the platform rule retries a day and then dead-letters what it cannot deliver;
/// every published event is archived for replays.
#[test]
fn nothing_is_lost_on_delete_or_delivery_failure() {
    let template = template();
    for queue in [
        "PlatformEventsDeadLetterQueue",
        "EventPublisherFailureQueue",
    ] {
        let queue = resource(&template, queue);
        assert_eq!(queue["DeletionPolicy"], "Retain");
        assert_eq!(queue["UpdateReplacePolicy"], "Retain");
    }

    let targets = resource(&template, "PlatformEventsRule")["Properties"]["Targets"]
        .as_sequence()
        .expect("Targets");
    for target in targets {
        let dead_letter = &target["DeadLetterConfig"]["Arn"];
        let Some(("GetAtt", dlq)) = intrinsic(dead_letter) else {
            panic!("the rule's target has a DeadLetterConfig: {target:?}");
        };
        let dlq = match dlq {
            Yaml::String(text) => text.split('.').next().unwrap_or_default().to_owned(),
            Yaml::Sequence(parts) => parts[0].as_str().unwrap_or_default().to_owned(),
            _ => String::new(),
        };
        assert_eq!(dlq, "PlatformEventsDeadLetterQueue");
        let retry = &target["RetryPolicy"];
        assert!(retry["MaximumRetryAttempts"]
            .as_u64()
            .is_some_and(|n| n > 0));
        assert!(retry["MaximumEventAgeInSeconds"]
            .as_u64()
            .is_some_and(|s| (60..=86_400).contains(&s)));
    }
    // EventBridge may send to the dead-letter queue: a policy of its own admits the rule.
    let policy = resources(&template)
        .find(|(_, r)| {
            r["Type"] == "AWS::SQS::QueuePolicy"
                && r["Properties"]["Queues"].as_sequence().is_some_and(|q| {
                    q.iter()
                        .any(|q| is_ref_to(q, "PlatformEventsDeadLetterQueue"))
                })
        })
        .map(|(_, r)| r)
        .expect("a queue policy for the dead-letter queue");
    let text = format!("{policy:?}");
    assert!(text.contains("events.amazonaws.com") && text.contains("PlatformEventsRule"));

    let retention = parameter(&template, "EventArchiveRetentionDays");
    assert_eq!(retention["Default"].as_u64(), Some(30));
    let archive = resources(&template)
        .find(|(_, r)| r["Type"] == "AWS::Events::Archive")
        .map(|(_, r)| &r["Properties"])
        .expect("an archive");
    assert!(matches!(
        intrinsic(&archive["SourceArn"]),
        Some(("GetAtt", value)) if format!("{value:?}").contains("OrganisationsEventBus")
    ));
    assert!(is_ref_to(
        &archive["RetentionDays"],
        "EventArchiveRetentionDays"
    ));
}

/// A scheduled function runs once per schedule: neither EventBridge Scheduler nor Lambda's
/// asynchronous invocation retries it.
#[test]
fn schedules_run_once() {
    let template = template();
    let mut scheduled = 0;
    for (name, function) in functions(&template) {
        let properties = &function["Properties"];
        let Some(events) = properties["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"] != "ScheduleV2" {
                continue;
            }
            scheduled += 1;
            assert_eq!(
                event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"].as_u64(),
                Some(0),
                "{name}: the schedule retries"
            );
            assert_eq!(
                properties["EventInvokeConfig"]["MaximumRetryAttempts"].as_u64(),
                Some(0),
                "{name}: Lambda retries the asynchronous invocation (EventInvokeConfig)"
            );
        }
    }
    assert_eq!(scheduled, 2, "vat-revalidation and purge-sweeper");
}

/// Whether `alarm` watches `metric` of `function` (AWS/Lambda, by FunctionName).
fn watches(alarm: &Yaml, metric: &str, function: &str) -> bool {
    alarm["Properties"]["Metrics"]
        .as_sequence()
        .into_iter()
        .flatten()
        .any(|m| {
            let watched = &m["MetricStat"]["Metric"];
            watched["Namespace"] == "AWS/Lambda"
                && watched["MetricName"] == metric
                && names_dimension(&watched["Dimensions"], function)
        })
}

fn names_dimension(dimensions: &Yaml, function: &str) -> bool {
    dimensions
        .as_sequence()
        .into_iter()
        .flatten()
        .any(|d| d["Name"] == "FunctionName" && is_ref_to(&d["Value"], function))
}

/// Every function has one Errors and one Throttles alarm of its own, and no alarm reads more
/// than the 10 metrics an alarm's metric math may (CloudWatch PutMetricAlarm, `Metrics`): an
/// eleventh function cannot break an alarm, and one without alarms fails here.
#[test]
fn every_function_has_its_errors_and_throttles_alarms() {
    let template = template();
    let alarms: Vec<(&str, &Yaml)> = resources(&template)
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    for (name, alarm) in &alarms {
        let metrics = alarm["Properties"]["Metrics"].as_sequence().map_or(0, |m| {
            m.iter().filter(|m| !m["MetricStat"].is_null()).count()
        });
        assert!(metrics <= 10, "{name} reads {metrics} metrics");
    }
    let functions = functions(&template);
    assert_eq!(functions.len(), 10);
    for (function, _) in functions {
        for metric in ["Errors", "Throttles"] {
            let watching: Vec<&str> = alarms
                .iter()
                .filter(|(_, alarm)| watches(alarm, metric, function))
                .map(|(name, _)| *name)
                .collect();
            assert_eq!(
                watching.len(),
                1,
                "{function}: {metric} alarms {watching:?}"
            );
        }
    }
}

/// The platform events' event source mapping has a maximum concurrency, and every function a
/// reserved concurrency parameter (none reserved by default), each documented in
/// docs/capacity.md.
#[test]
fn concurrency_is_bounded_by_parameters() {
    let template = template();
    let capacity = std::fs::read_to_string(repo_root().join("docs/capacity.md")).expect("docs");

    let mapping = &resource(&template, "PlatformEventsFunction")["Properties"]["Events"]
        ["PlatformEvents"]["Properties"];
    assert!(is_ref_to(
        &mapping["ScalingConfig"]["MaximumConcurrency"],
        "PlatformEventsMaximumConcurrency"
    ));
    let maximum = parameter(&template, "PlatformEventsMaximumConcurrency");
    assert!(maximum["MinValue"].as_u64() == Some(2) && maximum["MaxValue"].as_u64() == Some(1000));
    assert!(capacity.contains("PlatformEventsMaximumConcurrency"));

    for (name, function) in functions(&template) {
        let group = name.trim_end_matches("Function");
        let parameter_name = format!("{group}ReservedConcurrency");
        let declared = parameter(&template, &parameter_name);
        assert_eq!(declared["Default"].as_i64(), Some(-1), "{parameter_name}");
        let (condition, then, otherwise) =
            if_branches(&function["Properties"]["ReservedConcurrentExecutions"]);
        assert!(is_ref_to(then, &parameter_name), "{name}");
        assert!(is_ref_to(otherwise, "AWS::NoValue"), "{name}");
        let text = format!("{:?}", template["Conditions"][condition]);
        assert!(
            text.contains(&parameter_name) && text.contains("-1"),
            "{condition}"
        );
        assert!(
            capacity.contains(&parameter_name),
            "docs/capacity.md: {parameter_name}"
        );
    }
}

/// Verification links work on the first deploy: `PublicApiUrl` is optional, and without it the
/// functions get the custom domain, or nothing (then the request's own host). The custom domain
/// is optional too: with it, a domain name, its mapping, and the execute-api endpoint off.
#[test]
fn the_custom_domain_is_optional_and_links_follow_it() {
    let template = template();
    for name in ["PublicApiUrl", "DomainName", "CertificateArn"] {
        assert_eq!(parameter(&template, name)["Default"], "", "{name}");
    }
    let condition = format!("{:?}", template["Conditions"]["HasCustomDomain"]);
    assert!(condition.contains("DomainName") && condition.contains("CertificateArn"));

    let domain = resources(&template)
        .find(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::DomainName")
        .expect("an ApiGatewayV2 domain name");
    assert_eq!(domain.1["Condition"], "HasCustomDomain");
    assert!(is_ref_to(
        &domain.1["Properties"]["DomainName"],
        "DomainName"
    ));
    let certificate = &domain.1["Properties"]["DomainNameConfigurations"][0]["CertificateArn"];
    assert!(is_ref_to(certificate, "CertificateArn"));
    let mapping = resources(&template)
        .find(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::ApiMapping")
        .map(|(_, r)| r)
        .expect("an API mapping");
    assert_eq!(mapping["Condition"], "HasCustomDomain");
    assert!(is_ref_to(&mapping["Properties"]["ApiId"], "HttpApi"));
    assert!(is_ref_to(&mapping["Properties"]["DomainName"], domain.0));

    let (condition, on, off) =
        if_branches(&resource(&template, "HttpApi")["Properties"]["DisableExecuteApiEndpoint"]);
    assert_eq!(condition, "HasCustomDomain");
    assert!(on.as_bool() == Some(true) && off.as_bool() == Some(false));

    for (name, function) in functions(&template) {
        let url = &function["Properties"]["Environment"]["Variables"]["PUBLIC_API_URL"];
        if url.is_null() {
            continue;
        }
        let (condition, configured, fallback) = if_branches(url);
        assert_eq!(condition, "HasPublicApiUrl", "{name}");
        assert!(is_ref_to(configured, "PublicApiUrl"), "{name}");
        let (condition, domain, none) = if_branches(fallback);
        assert_eq!(condition, "HasCustomDomain", "{name}");
        assert!(format!("{domain:?}").contains("${DomainName}"), "{name}");
        assert_eq!(none, "", "{name}: no URL, the request's own host");
    }
}

// --- make deploy's own checks (scripts/deploy-check.py, scripts/tools.sh package) ------------

/// A directory of its own under the system's temporary directory, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{what}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn venv_python() -> std::path::PathBuf {
    repo_root().join(".cache/venv/bin/python")
}

/// Runs scripts/deploy-check.py on a samconfig text for `env`: success, and what it printed.
fn deploy_check(samconfig: &str, env: &str) -> (bool, String) {
    let scratch = Scratch::new("deploy-check");
    let config = scratch.0.join("samconfig.toml");
    std::fs::write(&config, samconfig).expect("samconfig");
    let output = std::process::Command::new(venv_python())
        .arg(repo_root().join("scripts/deploy-check.py"))
        .arg("--config")
        .arg(&config)
        .arg(env)
        .output()
        .expect("deploy-check.py runs");
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), text)
}

/// A [default] environment with every required parameter set to real-looking values.
fn filled_samconfig(stack: &str, leave_out: &str) -> String {
    let parameters = [
        "JwtIssuer=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_a1B2c3D4e",
        "JwtAudience=4s7cl0ud0rg4n1s4t10n5",
        "MailFrom=no-reply@acme-cloud.eu",
        "MailIdentity=acme-cloud.eu",
        "PlatformEventProducerAccounts=210987654321",
        "OperatorJwtAudience=0p3r4t0rs4pp",
        "ClustersEventProducerPrincipals=arn:aws:iam::210987654321:role/clusters-*",
        "CloudAccountsEventProducerPrincipals=arn:aws:iam::210987654321:role/cloud-accounts-*",
        "MonitoringEventProducerPrincipals=arn:aws:iam::210987654321:role/monitoring-*",
        "PaymentsEventProducerPrincipals=arn:aws:iam::210987654321:role/payments-*",
        "OperatorsEventProducerPrincipals=arn:aws:iam::210987654321:role/operators-*",
    ]
    .iter()
    .filter(|p| !p.starts_with(&format!("{leave_out}=")))
    .map(|p| format!("  \"{p}\",\n"))
    .collect::<String>();
    format!(
        "version = 0.1\n[default.global.parameters]\nstack_name = \"{stack}\"\n\
         [default.deploy.parameters]\nparameter_overrides = [\n{parameters}]\n"
    )
}

/// The longest name the template builds from the stack name, with its limit: Lambda function
/// names and EventBridge Scheduler schedule names have at most 64 characters (Lambda
/// CreateFunction, Scheduler CreateSchedule), and they are the longest suffixes.
fn stack_name_maximum() -> usize {
    let template = template();
    let mut maximum = 128;
    for (_, function) in functions(&template) {
        let properties = &function["Properties"];
        let mut names = vec![&properties["FunctionName"]];
        if let Some(events) = properties["Events"].as_mapping() {
            names.extend(events.values().map(|e| &e["Properties"]["Name"]));
        }
        for name in names {
            if let Some(("Sub", Yaml::String(text))) = intrinsic(name) {
                let rest = text.replace("${AWS::StackName}", "").len();
                maximum = maximum.min(64 - rest);
            }
        }
    }
    maximum
}

/// `make deploy` stops before building while samconfig.toml still holds its documentation
/// values, and names each one.
#[test]
fn make_deploy_refuses_placeholders_naming_each() {
    let samconfig = std::fs::read_to_string(repo_root().join("samconfig.toml")).expect("samconfig");
    for env in ["default", "staging"] {
        let (ok, text) = deploy_check(&samconfig, env);
        assert!(!ok, "[{env}] as committed deploys: {text}");
        for name in [
            "JwtIssuer",
            "JwtAudience",
            "MailFrom",
            "MailIdentity",
            "PlatformEventProducerAccounts",
            "OperatorJwtAudience",
            "ClustersEventProducerPrincipals",
            "PaymentsEventProducerPrincipals",
        ] {
            assert!(
                text.contains(&format!("parameter {name}=")),
                "{env}: {name}: {text}"
            );
        }
    }

    let (ok, text) = deploy_check(&filled_samconfig("organisations-api", ""), "default");
    assert!(ok, "{text}");

    let (ok, text) = deploy_check(
        &filled_samconfig("organisations-api", "MailFrom"),
        "default",
    );
    assert!(
        !ok && text.contains("parameter MailFrom is required"),
        "{text}"
    );

    let example = filled_samconfig("organisations-api", "").replace("acme-cloud.eu", "example.com");
    let (ok, text) = deploy_check(&example, "default");
    assert!(!ok && text.contains("MailIdentity=example.com"), "{text}");
}

/// The longest physical name built from the stack name fits its limit: `make deploy` refuses a
/// longer stack name and says the maximum; both configured stacks fit.
#[test]
fn make_deploy_refuses_a_stack_name_too_long() {
    let maximum = stack_name_maximum();
    assert!(maximum >= "organisations-api-staging".len());
    let fits = format!("o{}", "-".repeat(maximum - 1));
    let (ok, text) = deploy_check(&filled_samconfig(&fits, ""), "default");
    assert!(ok, "{maximum} characters: {text}");
    let long = format!("o{}", "-".repeat(maximum));
    let (ok, text) = deploy_check(&filled_samconfig(&long, ""), "default");
    assert!(!ok, "{} characters deploy", maximum + 1);
    assert!(
        text.contains(&format!("the maximum is {maximum}")),
        "{text}"
    );
}

/// `scripts/tools.sh package` (make package, make deploy) needs neither Java nor npm: it runs
/// with both hidden from PATH, in a copy of the scripts whose cache has the venv but no
/// DynamoDB Local, so that an install of DynamoDB Local would fail it.
#[test]
fn the_package_tools_need_neither_java_nor_npm() {
    let scratch = Scratch::new("tools-package");
    let root = &scratch.0;
    std::fs::create_dir_all(root.join("scripts")).expect("scripts");
    std::fs::create_dir_all(root.join(".cache")).expect(".cache");
    for script in ["tools.sh", "dynamodb-local.sh"] {
        std::fs::copy(
            repo_root().join("scripts").join(script),
            root.join("scripts").join(script),
        )
        .expect("copy script");
    }
    let venv = repo_root()
        .join(".cache/venv")
        .canonicalize()
        .expect("venv");
    std::os::unix::fs::symlink(venv, root.join(".cache/venv")).expect("venv link");

    // PATH: one directory with every program of the current PATH but these.
    let hidden = ["java", "javac", "npm", "npx", "node"];
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if hidden.iter().any(|h| name == *h) || bin.join(&name).exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(entry.path(), bin.join(&name));
        }
    }
    for program in hidden {
        assert!(!bin.join(program).exists());
    }

    let output = std::process::Command::new("/bin/bash")
        .arg(root.join("scripts/tools.sh"))
        .arg("package")
        .env("PATH", &bin)
        .output()
        .expect("tools.sh runs");
    assert!(
        output.status.success(),
        "scripts/tools.sh package without java and npm: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!root.join(".cache/dynamodb-local").exists());
}

// --- verification links on the first deploy ---------------------------------------------------

/// Without a configured `PUBLIC_API_URL` (the template passes an empty one unless `PublicApiUrl`
/// or a custom domain is set), the link in a verification mail is where the request reached the
/// API: its `requestContext.domainName` (the stack's HTTP API has only the `$default` stage,
/// which adds nothing to the path); a configured URL wins.
/// The link then verifies the address.
#[tokio::test]
async fn verification_links_follow_the_request_without_a_configured_url() {
    let mut env = api_tests::TestEnv::new().await;
    let admin = api_tests::TestUser::new("links");
    let cases = [
        (
            "",
            "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "$default",
            "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/api/v1/validations/verify-email/",
        ),
        (
            "",
            "api.acme-cloud.eu",
            "$default",
            "https://api.acme-cloud.eu/api/v1/validations/verify-email/",
        ),
        (
            "https://links.acme-cloud.eu",
            "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "$default",
            "https://links.acme-cloud.eu/api/v1/validations/verify-email/",
        ),
    ];
    for (i, (configured, domain, stage, expected)) in cases.into_iter().enumerate() {
        env.app.public_api_url = configured.to_owned();
        let contact = format!("links-{i}@acme-cloud.eu");
        let reply = api_tests::send(
            &env.app,
            api_tests::ApiRequest::post("/api/v1/organisations")
                .by(&admin)
                .served_at(domain, stage)
                .json(serde_json::json!({
                    "organisationName": format!("Links {i}"),
                    "organisationType": "BUSINESS",
                    "contactEmail": contact,
                    "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                                           {"agreementSlug": "privacy-policy"}]
                })),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let mail = env
            .mails()
            .into_iter()
            .find(|m| m.to == contact)
            .expect("a verification mail");
        let code = mail.code();
        assert!(
            mail.body.contains(&format!("{expected}{code}")),
            "case {i}: expected {expected}{code} in {}",
            mail.body
        );
        let path = format!("/api/v1/validations/verify-email/{code}");
        let verified = api_tests::send(&env.app, api_tests::ApiRequest::get(&path)).await;
        assert_eq!(verified.status, 200, "case {i}");
    }
}

/// An added member's answer says where the member is (`Location`), and that is where a DELETE
/// removes it: the link add member → remove that clients (and schemathesis's stateful phase,
/// which follows `Location`) use.
#[tokio::test]
async fn an_added_member_is_located_where_it_is_removed() {
    let env = api_tests::TestEnv::new().await;
    let admin = api_tests::TestUser::new("locator");
    let slug =
        api_tests::create_organisation(&env.app, &admin, "Located Members", "BUSINESS").await;
    let added = api_tests::send(
        &env.app,
        api_tests::ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
            .by(&admin)
            .json(
                serde_json::json!({"email": {"email": "new-member@acme-cloud.eu"},
                                     "role": "developer", "kubernetesRole": "VIEW"}),
            ),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let location = added
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_owned();
    let prefix = format!("/api/v1/organisations/{slug}/members/");
    assert!(location.starts_with(&prefix), "{location}");
    let removed = api_tests::send(
        &env.app,
        api_tests::ApiRequest::delete(&location).by(&admin),
    )
    .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    let again = api_tests::send(
        &env.app,
        api_tests::ApiRequest::delete(&location).by(&admin),
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.body);
}
