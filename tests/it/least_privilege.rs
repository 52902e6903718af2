//! Least privilege, derived: every function is driven through its handler over every path its
//! code has (each route with its writes, an invitation claimed on a first request, idempotent
//! replays, every platform event kind, a VAT run with a due number, a sweep with a queued
//! marker, the publisher with a fake EventBridge); each DynamoDB request it sends is recorded
//! at the network boundary as the IAM actions it is authorised as (a TransactWriteItems as its
//! items' PutItem, UpdateItem, DeleteItem and ConditionCheckItem), on the table or the index;
//! mail it sends is `ses:SendEmail`, events it puts `events:PutEvents`. The template's policy of
//! each function must grant exactly these: an action no call needs fails, as does a missing one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api_tests::outbound::eventbridge::FakeEventBridge;
use api_tests::outbound::StreamTap;
use api_tests::platform::{deliver_bodies, event};
use api_tests::vies::FakeVies;
use api_tests::{send, ApiRequest, TestEnv, TestUser};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;
use shared::domain::platform::EventKind;
use shared::storage::Store;

use crate::contract::{intrinsic, resources, template};

type Calls = BTreeMap<&'static str, BTreeSet<String>>;

/// Records the IAM actions of every DynamoDB request while a function is being driven; and
/// answers every other TransactWriteItems of a driven function with a transaction conflict, so
/// that each write path also takes its retry (and the fresh read that goes with it).
#[derive(Debug, Clone, Default)]
struct Recorder {
    function: Arc<Mutex<Option<&'static str>>>,
    calls: Arc<Mutex<Calls>>,
    conflict_server: String,
    transactions: Arc<std::sync::atomic::AtomicUsize>,
}

impl Recorder {
    fn driving(&self, function: Option<&'static str>) {
        *self.function.lock().expect("recorder") = function;
    }

    fn record(&self, action: String) {
        let function = *self.function.lock().expect("recorder");
        if let Some(function) = function {
            self.calls
                .lock()
                .expect("recorder")
                .entry(function)
                .or_default()
                .insert(action);
        }
    }

    fn calls(&self) -> Calls {
        self.calls.lock().expect("recorder").clone()
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let driven = self.function.lock().expect("recorder").is_some();
        let request = context.request_mut();
        let transaction = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with(".TransactWriteItems"));
        if driven
            && transaction
            && self
                .transactions
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                .is_multiple_of(2)
        {
            request.set_uri(format!("{}/", self.conflict_server).as_str())?;
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let on = if body["IndexName"].is_string() {
            "index"
        } else {
            "table"
        };
        if operation == "TransactWriteItems" {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                for (kind, action) in [
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                ] {
                    if item.get(kind).is_some() {
                        self.record(format!("dynamodb:{action} on table"));
                    }
                }
            }
        } else {
            self.record(format!("dynamodb:{operation} on {on}"));
        }
        Ok(())
    }
}

/// The actions each function's policy grants, as `<action> on <table|index|mail identity|bus>`.
fn granted(template: &Yaml) -> Calls {
    let mut granted = Calls::new();
    for (name, function) in resources(template) {
        if function["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let entry = granted.entry(name).or_default();
        let statements = function["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default());
        for statement in statements {
            let resource = format!("{:?}", statement["Resource"]);
            let on = if resource.contains("/index/") {
                "index"
            } else if resource.contains("OrganisationsTable") {
                "table"
            } else if resource.contains("identity/") {
                "mail identity"
            } else if resource.contains("OrganisationsEventBus") {
                "bus"
            } else {
                panic!("{name}: a statement on {resource}")
            };
            let actions: Vec<String> = match &statement["Action"] {
                Yaml::String(a) => vec![a.clone()],
                Yaml::Sequence(list) => list
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                other => panic!("{name}: Action {other:?}"),
            };
            for action in actions {
                entry.insert(format!("{action} on {on}"));
            }
        }
    }
    // Only literal policies: an !If or a SAM policy template would escape this comparison.
    for (name, function) in resources(template) {
        for policy in function["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            assert!(
                intrinsic(policy).is_none() && policy["Statement"].is_sequence(),
                "{name}: a policy that is not a literal statement list"
            );
        }
    }
    granted
}

fn create_body(name: &str, vat: Option<&str>) -> Value {
    let mut body = json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": format!("{}@acme-cloud.eu", name.to_lowercase().replace(' ', "-")),
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                               {"agreementSlug": "privacy-policy"}]
    });
    if let Some(vat) = vat {
        body["vatNumber"] = Value::from(vat);
        body["companyName"] = Value::from("Acme Cloud B.V.");
        body["companyAddress"] = Value::from("Keizersgracht 1, Amsterdam");
    }
    body
}

/// Sends `request` and checks it succeeded (any 2xx, or 304).
async fn ok(env: &TestEnv, request: ApiRequest) -> Value {
    let reply = send(&env.app, request).await;
    assert!(
        (200..300).contains(&reply.status),
        "{} {}",
        reply.status,
        reply.body
    );
    reply.body
}

fn mail_count(env: &TestEnv) -> usize {
    env.mails().len()
}

#[tokio::test]
async fn function_policies_grant_exactly_what_their_code_calls() {
    let recorder = Recorder {
        conflict_server: api_tests::faults::transaction_conflict_server().await,
        ..Recorder::default()
    };
    let vies = FakeVies::start().await;
    let mut env = TestEnv::new()
        .await
        .with_vies(&vies, Duration::from_secs(2));
    let healthy = env.app.store.clone();
    let recording = aws_sdk_dynamodb::Client::from_conf(
        healthy
            .client()
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    env.app.store = Store::new(recording, healthy.table());
    let mut mailing = BTreeSet::new();

    let admin = TestUser::new("polly");
    let invitee = TestUser::new("ivan");
    let invitee2 = TestUser::new("iris");
    let invitee3 = TestUser::new("ines");
    let operator = TestUser::operator("olga");

    // organisations: create (idempotent, with a VAT number), registration, read, PATCH (with
    // a billing address: a mail), DELETE (its inline sweep).
    recorder.driving(Some("OrganisationsFunction"));
    let mails = mail_count(&env);
    let create = || {
        ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .header("idempotency-key", "least-privilege-create")
            .json(create_body("Least Privilege", Some("NL004495445B01")))
    };
    let created = ok(&env, create()).await;
    ok(&env, create()).await;
    let slug = created["slug"]["slugValue"].as_str().unwrap().to_owned();
    let identity = created["identity"].as_str().unwrap().to_owned();
    let org = format!("/api/v1/organisations/{slug}");
    ok(
        &env,
        ApiRequest::post("/api/v1/registration")
            .by(&TestUser::new("regina"))
            .json(create_body("Registered One", None)),
    )
    .await;
    ok(&env, ApiRequest::get(&org).by(&admin)).await;
    ok(
        &env,
        ApiRequest::patch(&org).by(&admin).json(json!({
            "billingEmail": "billing@acme-cloud.eu", "vatNumber": "DE136695976"
        })),
    )
    .await;
    let doomed = ok(
        &env,
        ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .json(create_body("Doomed One", None)),
    )
    .await;
    let doomed_identity = doomed["identity"].as_str().unwrap().to_owned();
    let reply = send(
        &env.app,
        ApiRequest::delete(&format!("/api/v1/organisations/{doomed_identity}")).by(&admin),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    if mail_count(&env) > mails {
        mailing.insert("OrganisationsFunction");
    }

    // members: add (invitations, idempotent), list, me, remove; an invitee's first request
    // claims the invitation.
    recorder.driving(Some("MembersFunction"));
    let mails = mail_count(&env);
    let members = format!("{org}/members");
    for user in [&invitee, &invitee2, &invitee3] {
        let add = ApiRequest::post(&members)
            .by(&admin)
            .header("idempotency-key", &format!("add-{}", user.email()))
            .json(
                json!({"email": {"email": user.email()}, "role": "developer",
                         "kubernetesRole": "VIEW"}),
            );
        ok(&env, add.clone()).await;
        ok(&env, add).await;
    }
    let listed = ok(&env, ApiRequest::get(&members).by(&admin)).await;
    ok(&env, ApiRequest::get(&format!("{org}/me")).by(&invitee)).await;
    // The caller's organisations: the index of memberships and invitations.
    ok(&env, ApiRequest::get("/api/v1/memberships").by(&invitee2)).await;
    if mail_count(&env) > mails {
        mailing.insert("MembersFunction");
    }
    let removable = listed["members"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(listed["content"].as_array().into_iter().flatten())
        .find(|m| m.to_string().contains(invitee.email()))
        .and_then(|m| m["identity"].as_str())
        .map(str::to_owned);
    if let Some(member) = removable {
        let reply = send(
            &env.app,
            ApiRequest::delete(&format!("{members}/{member}")).by(&admin),
        )
        .await;
        assert!(reply.status < 300, "{} {}", reply.status, reply.body);
    }

    // activity: a list, and a first request that claims an invitation.
    recorder.driving(Some("ActivityFunction"));
    ok(&env, ApiRequest::get(&format!("{org}/activity")).by(&admin)).await;
    ok(
        &env,
        ApiRequest::get(&format!("{org}/activity")).by(&invitee2),
    )
    .await;

    // resources: quotas, compute information, and a claim.
    recorder.driving(Some("ResourcesFunction"));
    ok(
        &env,
        ApiRequest::get(&format!("{org}/quotas")).by(&invitee3),
    )
    .await;
    ok(
        &env,
        ApiRequest::get(&format!("/api/v1/compute-information/organisation/{slug}")).by(&admin),
    )
    .await;

    // validation: status, the VAT legal entity and its confirmation, a resend (a mail), the
    // link; a claim.
    recorder.driving(Some("ValidationFunction"));
    let mails = mail_count(&env);
    let claimer = TestUser::new("vera");
    recorder.driving(None);
    ok(
        &env,
        ApiRequest::post(&members)
            .by(&admin)
            .json(json!({"email": {"email": claimer.email()}, "role": "admin",
                         "kubernetesRole": "VIEW"})),
    )
    .await;
    recorder.driving(Some("ValidationFunction"));
    ok(
        &env,
        ApiRequest::get(&format!("{org}/validation-status")).by(&claimer),
    )
    .await;
    let _ = send(
        &env.app,
        ApiRequest::get(&format!("{org}/validation-status/vat")).by(&admin),
    )
    .await;
    let _ = send(
        &env.app,
        ApiRequest::post(&format!("{org}/validation-status/vat"))
            .by(&admin)
            .json(json!({"legalEntityName": true, "legalEntityAddress": true})),
    )
    .await;
    // The billing address was mailed by the PATCH a moment ago: its mails an hour back in the
    // organisation's record of them, so that the resend is not refused (429) before it writes.
    recorder.driving(None);
    let billing = shared::domain::Email::parse("email", "billing@acme-cloud.eu").unwrap();
    let billing_hash = shared::domain::verification::address_hash(&billing);
    let slug_value = shared::domain::Slug::parse(&slug).unwrap();
    let mut profile = healthy.organisation(&slug_value).await.unwrap().unwrap();
    for mail in profile
        .mails_sent
        .0
        .iter_mut()
        .filter(|m| m.is_to(&billing_hash))
    {
        mail.at = chrono::Utc::now() - chrono::Duration::minutes(61);
    }
    healthy
        .seed(&profile, &slug_value)
        .await
        .expect("age the mails");
    recorder.driving(Some("ValidationFunction"));
    ok(
        &env,
        ApiRequest::post(&format!("{org}/validation-status/email/resend"))
            .by(&admin)
            .json(json!({"emailType": "BILLING"})),
    )
    .await;
    let code = env.mails().last().expect("a mail").code();
    ok(
        &env,
        ApiRequest::get(&format!("/api/v1/validations/verify-email/{code}")),
    )
    .await;
    if mail_count(&env) > mails {
        mailing.insert("ValidationFunction");
    }

    // operators: the organisation by identity, and a PATCH with quota overrides.
    recorder.driving(Some("OperatorsFunction"));
    let admin_path = format!("/admin/v1/orgs/{identity}");
    ok(&env, ApiRequest::get(&admin_path).by(&operator)).await;
    let overrides = json!({
        "organisationType": "ENTERPRISE",
        "quotaOverrides": {"clustersPerCustomer": 250, "nodesPerCluster": 1000}
    });
    ok(
        &env,
        ApiRequest::patch(&admin_path)
            .by(&operator)
            .json(overrides.clone()),
    )
    .await;
    // The same overrides again: recorded, the profile only checked (Profile::Exists).
    ok(
        &env,
        ApiRequest::patch(&admin_path).by(&operator).json(overrides),
    )
    .await;

    // platform-events: every kind.
    recorder.driving(Some("PlatformEventsFunction"));
    let resources = [
        (
            EventKind::ClusterCreated,
            json!({"clusterId": "c-1", "cpuMillicores": 8000, "memoryMib": 16384}),
        ),
        (
            EventKind::ClusterResized,
            json!({"clusterId": "c-1", "cpuMillicores": 4000, "memoryMib": 8192}),
        ),
        (EventKind::ClusterDeleted, json!({"clusterId": "c-1"})),
        (
            EventKind::CloudAccountConfigured,
            json!({"cloudAccountId": "a-1"}),
        ),
        (
            EventKind::CloudAccountRemoved,
            json!({"cloudAccountId": "a-1"}),
        ),
        (
            EventKind::MonitoringTenantActivated,
            json!({"monitoringTenantId": "t-1"}),
        ),
        (
            EventKind::MonitoringTenantDeactivated,
            json!({"monitoringTenantId": "t-1"}),
        ),
        (
            EventKind::PaymentMethodAttached,
            json!({"paymentMethodId": "pm-1"}),
        ),
        (
            EventKind::PaymentMethodDetached,
            json!({"paymentMethodId": "pm-1"}),
        ),
        (
            EventKind::QuotasOverridden,
            json!({"quotas": {"clustersPerCustomer": 40,
            "clustersPerEnvironment": null, "environmentsPerCustomer": null,
            "nodePoolsPerCluster": null, "nodesPerCluster": 100, "nodesPerNodePool": null}}),
        ),
    ];
    let start = chrono::Utc::now() - chrono::Duration::minutes(30);
    for (i, (kind, detail)) in resources.into_iter().enumerate() {
        let at = (start + chrono::Duration::seconds(i as i64)).to_rfc3339();
        let (failed, _) = deliver_bodies(&env.app, [event(kind, &slug, &at, detail)]).await;
        assert!(failed.is_empty(), "{kind:?}");
    }

    // vat-revalidation: a run at a time when the organisation's number is due again.
    recorder.driving(Some("VatRevalidationFunction"));
    let report = shared::vat_revalidation::run(
        &env.app,
        chrono::Utc::now() + chrono::Duration::days(400),
        std::time::Instant::now() + Duration::from_secs(60),
    )
    .await
    .expect("a VAT run");
    assert!(report.checked >= 1, "{report:?}");

    // purge-sweeper: a queued marker of a partition that still has items.
    recorder.driving(None);
    let marker = shared::storage::entities::PurgeMarker {
        slug: shared::domain::Slug::parse(&slug).unwrap(),
        deleted_at: chrono::Utc::now() - chrono::Duration::minutes(1),
    };
    healthy.seed(&marker, &marker.slug).await.unwrap();
    recorder.driving(Some("PurgeSweeperFunction"));
    let payload: Value = serde_json::from_str(
        &std::fs::read_to_string(
            api_tests::dynamodb::repo_root().join("tests/events/purge-sweeper-schedule.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut context = lambda_runtime::Context::default();
    context.deadline =
        u64::try_from((chrono::Utc::now() + chrono::Duration::seconds(20)).timestamp_millis())
            .unwrap();
    ::purge_sweeper::handle(&env.app, lambda_runtime::LambdaEvent::new(payload, context))
        .await
        .expect("a sweep");
    recorder.driving(None);

    let mut calls = recorder.calls();
    for function in mailing {
        calls
            .entry(function)
            .or_default()
            .insert("ses:SendEmail on mail identity".to_owned());
    }

    // event-publisher: the stream of this table, through a fake EventBridge.
    let bridge = FakeEventBridge::start().await;
    let mut tap = StreamTap::new(&env).await;
    let batch = tap.batch().await;
    let _ = event_publisher::handle(&bridge.publisher(), batch).await;
    if bridge.calls() > 0 {
        calls
            .entry("EventPublisherFunction")
            .or_default()
            .insert("events:PutEvents on bus".to_owned());
    }

    let granted = granted(&template());
    let mut problems = Vec::new();
    for (function, grants) in &granted {
        let needed = calls.get(function).cloned().unwrap_or_default();
        for action in grants.difference(&needed) {
            problems.push(format!("{function}: {action} is granted, no call needs it"));
        }
        for action in needed.difference(grants) {
            problems.push(format!("{function}: {action} is called, not granted"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
