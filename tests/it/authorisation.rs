//! The authorisation matrix: every implemented endpoint × every kind of caller → status.
//! Each cell runs against an organisation of its own, so destructive requests do not interfere.

use api_tests::{send, ApiRequest, TestEnv, TestUser};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Admin,
    Developer,
    BillingAdmin,
    Viewer,
    NonMember,
    NoToken,
    /// A platform operator (the token's `organisations/operator` scope), not a member.
    Operator,
}

const CALLERS: [Caller; 7] = [
    Caller::Admin,
    Caller::Developer,
    Caller::BillingAdmin,
    Caller::Viewer,
    Caller::NonMember,
    Caller::NoToken,
    Caller::Operator,
];

/// An organisation with one member of each role.
struct Fixture {
    slug: String,
    identity: String,
    users: Vec<(Caller, TestUser)>,
    viewer_identity: String,
}

fn agreements() -> Value {
    json!([{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}])
}

async fn fixture(env: &TestEnv) -> Fixture {
    let admin = TestUser::new("admin");
    let created = send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .json(json!({
                "organisationName": "Matrix Org",
                "organisationType": "BUSINESS",
                "contactEmail": "ops@example.com",
                "acceptedAgreements": agreements()
            })),
    )
    .await;
    assert_eq!(created.status, 200);
    let slug = created.body["slug"]["slugValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut users = vec![(Caller::Admin, admin.clone())];
    let mut viewer_identity = String::new();
    for (caller, role) in [
        (Caller::Developer, "developer"),
        (Caller::BillingAdmin, "billing-admin"),
        (Caller::Viewer, "viewer"),
    ] {
        let user = TestUser::new(role);
        let added = send(
            &env.app,
            ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
                .by(&admin)
                .json(json!({"email": user.email(), "role": role})),
        )
        .await;
        assert_eq!(added.status, 200);
        let me = send(
            &env.app,
            ApiRequest::get(&format!("/api/v1/organisations/{slug}/me")).by(&user),
        )
        .await;
        assert_eq!(me.status, 200);
        if caller == Caller::Viewer {
            viewer_identity = me.body["identity"].as_str().unwrap().to_owned();
        }
        users.push((caller, user));
    }
    users.push((Caller::NonMember, TestUser::new("stranger")));
    users.push((Caller::Operator, TestUser::operator("operator")));
    Fixture {
        slug,
        identity: created.body["identity"].as_str().unwrap().to_owned(),
        users,
        viewer_identity,
    }
}

type Build = fn(&Fixture) -> ApiRequest;

fn expectations() -> Vec<(&'static str, Build, [u16; 7])> {
    // Order of the statuses: admin, developer, billing-admin, viewer, non-member, no token,
    // platform operator (who is no member: membership routes are 403 for them).
    vec![
        (
            "POST /registration",
            |_| {
                ApiRequest::post("/api/v1/registration").json(json!({
                    "organisationName": "Another Org", "organisationType": "TRIAL",
                    "contactEmail": "a@example.com", "acceptedAgreements": agreements()
                }))
            },
            [200, 200, 200, 200, 200, 401, 200],
        ),
        (
            "POST /organisations",
            |_| {
                ApiRequest::post("/api/v1/organisations").json(json!({
                    "organisationName": "Another Org", "organisationType": "TRIAL",
                    "contactEmail": "a@example.com", "acceptedAgreements": agreements()
                }))
            },
            [200, 200, 200, 200, 200, 401, 200],
        ),
        (
            "GET /organisations/{slug}",
            |f| ApiRequest::get(&format!("/api/v1/organisations/{}", f.slug)),
            [200, 200, 200, 200, 403, 401, 403],
        ),
        (
            "PATCH /organisations/{slug}",
            |f| {
                ApiRequest::patch(&format!("/api/v1/organisations/{}", f.slug))
                    .json(json!({"organisationName": "Renamed Org"}))
            },
            [200, 403, 403, 403, 403, 401, 403],
        ),
        (
            "DELETE /organisations/{identity}",
            |f| ApiRequest::delete(&format!("/api/v1/organisations/{}", f.identity)),
            [204, 403, 403, 403, 403, 401, 403],
        ),
        (
            "GET /organisations/{slug}/validation-status",
            |f| {
                ApiRequest::get(&format!(
                    "/api/v1/organisations/{}/validation-status",
                    f.slug
                ))
            },
            [200, 200, 200, 200, 403, 401, 403],
        ),
        (
            "GET /organisations/{slug}/validation-status/vat",
            |f| {
                ApiRequest::get(&format!(
                    "/api/v1/organisations/{}/validation-status/vat",
                    f.slug
                ))
            },
            [200, 200, 200, 200, 403, 401, 403],
        ),
        // The fixture has no VAT number: an admin gets past authorisation to the rule (400).
        (
            "POST /organisations/{slug}/validation-status/vat",
            |f| {
                ApiRequest::post(&format!(
                    "/api/v1/organisations/{}/validation-status/vat",
                    f.slug
                ))
                .json(json!({"vatLegalEntityName": "Acme"}))
            },
            [400, 403, 403, 403, 403, 401, 403],
        ),
        // The fixture has no billing address: an admin gets past authorisation to the rule (400).
        (
            "POST /organisations/{slug}/validation-status/email/resend",
            |f| {
                ApiRequest::post(&format!(
                    "/api/v1/organisations/{}/validation-status/email/resend",
                    f.slug
                ))
                .json(json!({"emailType": "BILLING"}))
            },
            [400, 403, 403, 403, 403, 401, 403],
        ),
        // No token needed: the code is the credential, and an unknown one is 404 for anyone.
        (
            "GET /validations/verify-email/{code}",
            |_| {
                ApiRequest::get(&format!(
                    "/api/v1/validations/verify-email/{}",
                    "C".repeat(43)
                ))
            },
            [404, 404, 404, 404, 404, 404, 404],
        ),
        (
            "GET /organisations/{slug}/me",
            |f| ApiRequest::get(&format!("/api/v1/organisations/{}/me", f.slug)),
            [200, 200, 200, 200, 403, 401, 403],
        ),
        (
            "GET /organisations/{slug}/members",
            |f| ApiRequest::get(&format!("/api/v1/organisations/{}/members", f.slug)),
            [200, 200, 200, 200, 403, 401, 403],
        ),
        (
            "POST /organisations/{slug}/members",
            |f| {
                ApiRequest::post(&format!("/api/v1/organisations/{}/members", f.slug))
                    .json(json!({"email": "new@example.com", "role": "viewer"}))
            },
            [200, 403, 403, 403, 403, 401, 403],
        ),
        (
            "DELETE /organisations/{slug}/members/{identity}",
            |f| {
                ApiRequest::delete(&format!(
                    "/api/v1/organisations/{}/members/{}",
                    f.slug, f.viewer_identity
                ))
            },
            [204, 403, 403, 403, 403, 401, 403],
        ),
        (
            "PATCH /organisations/{slug}/members/{identity}",
            |f| {
                ApiRequest::patch(&format!(
                    "/api/v1/organisations/{}/members/{}",
                    f.slug, f.viewer_identity
                ))
                .json(json!({"role": "developer"}))
            },
            [200, 403, 403, 403, 403, 401, 403],
        ),
        // The viewer has joined: an admin gets past authorisation to the rule (400).
        (
            "POST /organisations/{slug}/members/{identity}/invitation/resend",
            |f| {
                ApiRequest::post(&format!(
                    "/api/v1/organisations/{}/members/{}/invitation/resend",
                    f.slug, f.viewer_identity
                ))
            },
            [400, 403, 403, 403, 403, 401, 403],
        ),
        // The caller's own organisations: every caller has a (possibly empty) list.
        (
            "GET /memberships",
            |_| ApiRequest::get("/api/v1/memberships"),
            [200, 200, 200, 200, 200, 401, 200],
        ),
        // Members have joined already (200, idempotent); nobody else has an invitation (404).
        (
            "POST /memberships/{identity}/accept",
            |f| ApiRequest::post(&format!("/api/v1/memberships/{}/accept", f.identity)),
            [200, 200, 200, 200, 404, 401, 404],
        ),
        // The admin is the last one (400); the others leave; nobody else has anything to leave.
        (
            "DELETE /memberships/{identity}",
            |f| ApiRequest::delete(&format!("/api/v1/memberships/{}", f.identity)),
            [400, 204, 204, 204, 404, 401, 404],
        ),
        (
            "GET /compute-information/organisation/{slug}",
            |f| {
                ApiRequest::get(&format!(
                    "/api/v1/compute-information/organisation/{}",
                    f.slug
                ))
            },
            [200, 200, 200, 200, 403, 401, 403],
        ),
        (
            "GET /organisations/{slug}/quotas",
            |f| ApiRequest::get(&format!("/api/v1/organisations/{}/quotas", f.slug)),
            [200, 200, 200, 200, 403, 401, 403],
        ),
        // The operator plane: the operator scope or nothing, whatever the caller's memberships.
        (
            "GET /admin/v1/orgs/{identity}",
            |f| ApiRequest::get(&format!("/admin/v1/orgs/{}", f.identity)),
            [403, 403, 403, 403, 403, 401, 200],
        ),
        (
            "PATCH /admin/v1/orgs/{identity}",
            |f| {
                ApiRequest::patch(&format!("/admin/v1/orgs/{}", f.identity))
                    .json(json!({"organisationType": "ENTERPRISE"}))
            },
            [403, 403, 403, 403, 403, 401, 200],
        ),
    ]
}

#[tokio::test]
async fn every_endpoint_for_every_kind_of_caller() {
    let env = TestEnv::new().await;
    let mut failures = Vec::new();
    for (name, build, statuses) in expectations() {
        for (caller, expected) in CALLERS.into_iter().zip(statuses) {
            let fixture = fixture(&env).await;
            let request = build(&fixture);
            let request = match fixture.users.iter().find(|(c, _)| *c == caller) {
                Some((_, user)) => request.by(user),
                None => request,
            };
            let reply = send(&env.app, request).await;
            if reply.status != expected {
                failures.push(format!(
                    "{name} as {caller:?}: expected {expected}, got {} {}",
                    reply.status, reply.body
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
