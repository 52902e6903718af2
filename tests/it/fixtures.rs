//! The API Gateway v2 event fixtures in `tests/events/http/` (one per route, as the JWT
//! authorizer delivers them; usable with `cargo lambda invoke <function> --data-file ...`) are
//! replayed through the functions' handlers against a seeded organisation `acme-cloud`.

use std::collections::BTreeSet;

use api_tests::dynamodb::repo_root;
use api_tests::{dispatch, TestEnv};
use chrono::Utc;
use serde_json::Value;
use shared::domain::activity::{ActivityEvent, ActivityType, Actor};
use shared::domain::change::{member_writes, Change, Profile, Record, Write};
use shared::domain::member::{KubernetesRole, Member, Role};
use shared::domain::organisation::{Organisation, OrganisationName, OrganisationType};
use shared::domain::records::IdentityLookup;
use shared::domain::vat::VatNumber;
use shared::domain::verification::EmailCode;
use shared::domain::verification::{code_hash, EmailKind, ViesAnswer};
use shared::domain::{Email, Slug, Subject};
use shared::routes::ROUTES;

/// What the fixtures name (see their JSON).
const SUBJECT: &str = "00000000-0000-4000-8000-00000000a11c";
const ORGANISATION: &str = "6f1c2d3e-0000-4000-8000-000000000001";
const MEMBER: &str = "6f1c2d3e-0000-4000-8000-000000000002";
const CODE: &str = "fixture-verification-code-00000000000000000";

/// Fixtures in replay order with the status each must answer; deletion last.
const REPLAY: &[(&str, u16)] = &[
    ("get-organisation", 200),
    ("update-organisation", 200),
    ("get-my-membership", 200),
    ("list-members", 200),
    ("add-member", 200),
    ("update-member", 200),
    ("resend-invitation", 202),
    ("remove-member", 204),
    ("list-memberships", 200),
    // The caller of these two is carol, whom add-member invited.
    ("accept-membership", 200),
    ("leave-membership", 204),
    ("list-activity", 200),
    ("get-validation-status", 200),
    ("get-vat-legal-entity", 200),
    ("confirm-vat-legal-entity", 200),
    // The billing address's code: verify-email then opens the seeded contact code, which a
    // resend of the contact address would have replaced.
    ("resend-verification-email", 202),
    ("verify-email", 200),
    // A browser's POST of the same link (the confirmation page's button): already verified.
    ("confirm-email", 200),
    ("get-quotas", 200),
    ("get-compute-information", 200),
    // The caller of these two is olga, a platform operator (her claims carry the scope
    // organisations/operator) and no member of acme-cloud.
    ("get-organisation-as-operator", 200),
    ("update-organisation-as-operator", 200),
    ("register", 200),
    ("create-organisation", 200),
    ("delete-organisation", 204),
];

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join(format!("tests/events/http/{name}.json")))
        .unwrap_or_else(|e| panic!("tests/events/http/{name}.json: {e}"))
}

/// `acme-cloud` with alice (the fixtures' caller) as admin, bob as a viewer, a VAT number VIES
/// confirmed, and a pending verification code for the contact address.
async fn seed(env: &TestEnv) {
    let now = Utc::now();
    let slug = Slug::parse("acme-cloud").unwrap();
    let mut organisation = Organisation {
        identity: ORGANISATION.parse().unwrap(),
        slug: slug.clone(),
        name: OrganisationName::parse("n", "Acme Cloud").unwrap(),
        organisation_type: OrganisationType::Business,
        contact_email: Email::parse("e", "ops@acme.example").unwrap(),
        billing_email: None,
        company_name: Some("Acme Cloud B.V.".into()),
        company_address: None,
        phone_number: None,
        vat_code: None,
        vat_code_validated: false,
        vat_code_validated_at: None,
        accepted_terms: true,
        accepted_terms_at: Some(now),
        accepted_agreements: vec!["privacy-policy".into(), "terms-of-service".into()],
        restricted_to_available_cloud_providers: false,
        restricted_override: None,
        created_at: now,
        revision: 1,
        admin_count: 1,
        verification: Default::default(),
        vat_next_check_at: None,
        profile_writes: 0,
        mails_sent: Default::default(),
        vat_changes: Vec::new(),
    };
    organisation.set_vat_number(Some(&VatNumber::parse("NL004495445B01").unwrap()), now);
    organisation.record_vies_answer(
        &ViesAnswer::Valid {
            name: Some("ACME CLOUD B.V.".into()),
            address: Some("KEIZERSGRACHT 1\n1015 CJ AMSTERDAM".into()),
        },
        now,
    );
    let admin = Member {
        identity: uuid::Uuid::new_v4(),
        email: Some(Email::parse("e", "alice@example.com").unwrap()),
        username: Some("alice".into()),
        role: Role::Admin,
        kubernetes_role: KubernetesRole::ClusterAdmin,
        subject: Subject::parse(SUBJECT),
        joined_at: now,
        invitation: None,
    };
    let event = ActivityEvent::new(
        ActivityType::OrganisationCreated,
        Actor::system(),
        "seeded".into(),
        now,
    );
    let code = EmailCode {
        code_hash: code_hash(CODE),
        slug: slug.clone(),
        kind: EmailKind::Contact,
        email: organisation.contact_email.clone(),
        created_at: now,
        expires_at: (now + chrono::Duration::hours(24)).timestamp(),
        used_at: None,
    };
    let bob = Member {
        identity: MEMBER.parse().unwrap(),
        email: Some(Email::parse("e", "bob@example.com").unwrap()),
        username: Some("bob".into()),
        role: Role::Viewer,
        kubernetes_role: KubernetesRole::View,
        subject: None,
        joined_at: now,
        invitation: None,
    };
    organisation.verification.contact_code_hash = Some(code.code_hash.clone());
    organisation.billing_email = Some(Email::parse("e", "billing@acme.example").unwrap());
    organisation.verification.billing_code_hash = Some(code_hash("a-billing-code"));
    let change = Change {
        slug: slug.clone(),
        profile: Profile::Create(organisation.clone()),
        activity: Some(event),
        writes: vec![
            Write::insert(Record::OrganisationIdentity(IdentityLookup {
                identity: organisation.identity,
                slug: slug.clone(),
            })),
            Write::insert(Record::EmailCode(code)),
        ],
        ledger: None,
    }
    .with_all(member_writes(&admin))
    .with_all(member_writes(&bob));
    env.store().write(&change).await.unwrap();
}

#[tokio::test]
async fn every_route_has_a_fixture_and_every_fixture_is_replayed() {
    let fixtures: BTreeSet<String> = std::fs::read_dir(repo_root().join("tests/events/http"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".json")
                .to_owned()
        })
        .collect();
    let replayed: BTreeSet<String> = REPLAY.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(fixtures, replayed);
    let route_keys: BTreeSet<String> = fixtures
        .iter()
        .map(|name| {
            let event: Value = serde_json::from_str(&fixture(name)).unwrap();
            event["routeKey"].as_str().unwrap().to_owned()
        })
        .collect();
    let routes: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(route_keys, routes);
}

#[tokio::test]
async fn fixtures_replay_through_the_handlers() {
    let env = TestEnv::new().await;
    seed(&env).await;
    let mut failures = Vec::new();
    for (name, expected) in REPLAY {
        let request =
            lambda_http::request::from_str(&fixture(name)).expect("a valid API Gateway v2 event");
        let reply = dispatch(&env.app, request).await;
        if reply.status != *expected {
            failures.push(format!(
                "{name}: expected {expected}, got {} {}",
                reply.status, reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The operator fixtures without the operator scope in their claims: 403, as for any caller
/// without it (alice, an admin of acme-cloud, included).
#[tokio::test]
async fn operator_fixtures_need_the_operator_scope() {
    let env = TestEnv::new().await;
    seed(&env).await;
    for name in [
        "get-organisation-as-operator",
        "update-organisation-as-operator",
    ] {
        let mut event: Value = serde_json::from_str(&fixture(name)).unwrap();
        let jwt = &mut event["requestContext"]["authorizer"]["jwt"];
        assert!(jwt["claims"]["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == shared::domain::OPERATOR_SCOPE));
        jwt["claims"]["scope"] = Value::from("openid");
        jwt["scopes"] = serde_json::json!(["openid"]);
        for (claim, value) in [
            ("sub", SUBJECT),
            ("email", "alice@example.com"),
            ("preferred_username", "alice"),
        ] {
            jwt["claims"][claim] = Value::from(value);
        }
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let reply = dispatch(&env.app, request).await;
        assert_eq!(reply.status, 403, "{name}: {}", reply.body);
    }
}
