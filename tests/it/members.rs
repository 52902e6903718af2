//! Members: `/me`, list, add, remove, and invitations claimed on first use.

use api_tests::{create_organisation, send, ApiRequest, Reply, TestEnv, TestUser};
use serde_json::{json, Value};

struct Org {
    slug: String,
    admin: TestUser,
}

impl Org {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/organisations/{}{rest}", self.slug)
    }
}

async fn create_org(env: &TestEnv, name: &str) -> Org {
    let admin = TestUser::new("admin");
    let slug = create_organisation(&env.app, &admin, name, "BUSINESS").await;
    Org { slug, admin }
}

async fn add(env: &TestEnv, org: &Org, by: &TestUser, body: Value) -> Reply {
    send(
        &env.app,
        ApiRequest::post(&org.path("/members")).by(by).json(body),
    )
    .await
}

/// Invites `user` with `role` and lets them claim the invitation (GET /me).
async fn join(env: &TestEnv, org: &Org, user: &TestUser, role: &str) -> Value {
    let reply = add(
        env,
        org,
        &org.admin,
        json!({"email": user.email(), "role": role, "kubernetesRole": "VIEW"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(user)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    me.body
}

async fn list(env: &TestEnv, org: &Org, query: &str) -> Reply {
    send(
        &env.app,
        ApiRequest::get(&org.path(&format!("/members{query}"))).by(&org.admin),
    )
    .await
}

#[tokio::test]
async fn me_returns_the_callers_membership() {
    let env = TestEnv::new().await;
    let org = create_org(&env, "Me Corp").await;
    env.round_trips.reset();
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&org.admin)).await;
    assert_eq!(env.round_trips.get(), 1, "/me is one round trip");
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], json!({"email": org.admin.email()}));
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["kubernetesRole"], "CLUSTER_ADMIN");
    assert_eq!(me.body["subject"], org.admin.sub.as_str());
    assert_eq!(me.body["username"], "admin");
    uuid::Uuid::parse_str(me.body["identity"].as_str().unwrap()).unwrap();
    chrono::DateTime::parse_from_rfc3339(me.body["joinedAt"].as_str().unwrap()).unwrap();
    assert_eq!(me.body.as_object().unwrap().len(), 7);
}

#[tokio::test]
async fn an_invitation_is_claimed_by_a_verified_email_on_first_use() {
    let env = TestEnv::new().await;
    let org = create_org(&env, "Invite Corp").await;
    let bob = TestUser::new("bob");

    env.round_trips.reset();
    let added = add(&env, &org, &org.admin, json!({"email": {"email": bob.email().to_uppercase()}, "role": "developer", "kubernetesRole": "edit", "username": "bobby"})).await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.body, Value::Null, "200 without a body");
    assert_eq!(
        env.round_trips.get(),
        3,
        "add: one read with the members' Query beside it (the pending cap), one transaction \
         (the invitation mail counted in it)"
    );

    // Before the claim the member has no subject.
    let page = list(&env, &org, "").await;
    let invited = page.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "bobby")
        .unwrap()
        .clone();
    assert_eq!(invited["subject"], Value::Null);
    assert_eq!(invited["kubernetesRole"], "EDIT");

    // A token whose e-mail is not verified never claims it.
    let mut unverified = bob.clone();
    unverified.sub = uuid::Uuid::new_v4().to_string();
    unverified.email_verified = false;
    let refused = send(&env.app, ApiRequest::get(&org.path("/me")).by(&unverified)).await;
    assert_eq!(refused.status, 403);

    // Bob's verified token claims it (e-mail compared case-insensitively).
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&bob)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["subject"], bob.sub.as_str());
    assert_eq!(me.body["role"], "developer");
    assert_eq!(me.body["identity"], invited["identity"]);
    assert_eq!(me.body["username"], "bobby");

    // Once claimed it is Bob's: another verified token with the same address gets nothing.
    let mut impostor = bob.clone();
    impostor.sub = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        send(&env.app, ApiRequest::get(&org.path("/me")).by(&impostor))
            .await
            .status,
        403
    );

    // Bob's claim is on the list and in the activity log.
    let page = list(&env, &org, "").await;
    let claimed = page.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "bobby")
        .unwrap()
        .clone();
    assert_eq!(claimed["subject"], bob.sub.as_str());
    let events = env
        .store()
        .client()
        .query()
        .table_name(&env.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :a)")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", org.slug)),
        )
        .expression_attribute_values(
            ":a",
            aws_sdk_dynamodb::types::AttributeValue::S("ACTIVITY#".into()),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_s().unwrap().as_str())
        .collect();
    assert_eq!(
        types,
        ["ORGANISATION_CREATED", "MEMBER_ADDED", "MEMBER_JOINED"]
    );
}

#[tokio::test]
async fn add_validates_and_refuses_duplicates() {
    let env = TestEnv::new().await;
    let org = create_org(&env, "Strict Corp").await;
    for (body, detail) in [
        (json!({"role": "viewer"}), "email: is required"),
        (json!({"email": "x@example.com"}), "role: is required"),
        (
            json!({"email": "not-mail", "role": "viewer"}),
            "email: is not a valid e-mail address",
        ),
        (
            json!({"email": "x@example.com", "role": "owner"}),
            "role: must be one of admin, developer, billing-admin, viewer",
        ),
        (
            json!({"email": "x@example.com", "role": "viewer", "kubernetesRole": "root"}),
            "kubernetesRole: must be one of CLUSTER_ADMIN, EDIT, VIEW, NONE",
        ),
        (
            json!({"email": "x@example.com", "role": 3}),
            "role: must be a string",
        ),
        (
            json!({"email": "x@example.com", "role": "viewer", "subject": "me"}),
            "subject: is read-only",
        ),
        (
            json!({"email": "x@example.com", "role": "viewer", "extra": 1}),
            "extra: is not a field of this request",
        ),
    ] {
        let reply = add(&env, &org, &org.admin, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(
            reply.details().iter().any(|d| d.starts_with(detail)),
            "{body}: {:?}",
            reply.details()
        );
    }
    // Lowercase spellings are accepted; kubernetesRole defaults to NONE.
    let ok = add(
        &env,
        &org,
        &org.admin,
        json!({"email": "dev@example.com", "role": "billing-admin"}),
    )
    .await;
    assert_eq!(ok.status, 200);
    let page = list(&env, &org, "").await;
    let added = page.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"]["email"] == "dev@example.com")
        .unwrap()
        .clone();
    assert_eq!(added["role"], "billing-admin");
    assert_eq!(added["kubernetesRole"], "NONE");

    let duplicate = add(
        &env,
        &org,
        &org.admin,
        json!({"email": "DEV@example.com", "role": "viewer"}),
    )
    .await;
    assert_eq!(duplicate.status, 400);
    assert!(
        duplicate.message().contains("already a member"),
        "{}",
        duplicate.body
    );
    let creator = add(
        &env,
        &org,
        &org.admin,
        json!({"email": org.admin.email(), "role": "viewer"}),
    )
    .await;
    assert_eq!(
        creator.status, 400,
        "the creator's own address is taken too"
    );
    assert_eq!(list(&env, &org, "").await.body["totalElements"], 2);
}

#[tokio::test]
async fn removal_rules() {
    let env = TestEnv::new().await;
    let org = create_org(&env, "Remove Corp").await;
    let carol = TestUser::new("carol");
    let carol_me = join(&env, &org, &carol, "developer").await;
    let carol_path = org.path(&format!(
        "/members/{}",
        carol_me["identity"].as_str().unwrap()
    ));

    // Only admins remove.
    let admin_me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&org.admin))
        .await
        .body;
    let admin_path = org.path(&format!(
        "/members/{}",
        admin_me["identity"].as_str().unwrap()
    ));
    assert_eq!(
        send(&env.app, ApiRequest::delete(&admin_path).by(&carol))
            .await
            .status,
        403
    );

    // The last admin cannot be removed, not even by themselves.
    let last = send(&env.app, ApiRequest::delete(&admin_path).by(&org.admin)).await;
    assert_eq!(last.status, 400);
    assert!(last.message().contains("last admin"), "{}", last.body);

    // Unknown and malformed identities.
    let unknown = send(
        &env.app,
        ApiRequest::delete(&org.path(&format!("/members/{}", uuid::Uuid::new_v4()))).by(&org.admin),
    )
    .await;
    assert_eq!(unknown.status, 404);
    let malformed = send(
        &env.app,
        ApiRequest::delete(&org.path("/members/42")).by(&org.admin),
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.details(), ["memberIdentity: must be a UUID"]);

    // Removal takes effect at once.
    env.round_trips.reset();
    let removed = send(&env.app, ApiRequest::delete(&carol_path).by(&org.admin)).await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert_eq!(
        env.round_trips.get(),
        2,
        "remove: one read, one transaction"
    );
    assert_eq!(
        send(&env.app, ApiRequest::get(&org.path("/me")).by(&carol))
            .await
            .status,
        403
    );
    assert_eq!(
        send(&env.app, ApiRequest::get(&org.path("")).by(&carol))
            .await
            .status,
        403
    );
    assert_eq!(
        send(&env.app, ApiRequest::delete(&carol_path).by(&org.admin))
            .await
            .status,
        404
    );
    // The address is free again: a new invitation for it can be claimed anew.
    join(&env, &org, &carol, "viewer").await;

    // With a second admin, the first may leave.
    let dave = TestUser::new("dave");
    join(&env, &org, &dave, "admin").await;
    assert_eq!(
        send(&env.app, ApiRequest::delete(&admin_path).by(&org.admin))
            .await
            .status,
        204
    );
    assert_eq!(
        send(&env.app, ApiRequest::get(&org.path("")).by(&org.admin))
            .await
            .status,
        403
    );
    let dave_me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&dave))
        .await
        .body;
    let dave_path = org.path(&format!(
        "/members/{}",
        dave_me["identity"].as_str().unwrap()
    ));
    let now_last = send(&env.app, ApiRequest::delete(&dave_path).by(&dave)).await;
    assert_eq!(now_last.status, 400, "dave is now the last admin");
}

#[tokio::test]
async fn no_cross_organisation_access() {
    let env = TestEnv::new().await;
    let a = create_org(&env, "Org Alpha").await;
    let b = create_org(&env, "Org Beta").await;
    let b_member = TestUser::new("bmember");
    let b_me = join(&env, &b, &b_member, "viewer").await;
    let b_identity = b_me["identity"].as_str().unwrap();

    // A's admin uses B's member identity through A's slug: not found in A, B untouched.
    let via_a = send(
        &env.app,
        ApiRequest::delete(&a.path(&format!("/members/{b_identity}"))).by(&a.admin),
    )
    .await;
    assert_eq!(via_a.status, 404);
    // ... and through B's slug: not a member of B.
    for request in [
        ApiRequest::delete(&b.path(&format!("/members/{b_identity}"))),
        ApiRequest::get(&b.path("/members")),
        ApiRequest::get(&b.path("/me")),
        ApiRequest::get(&b.path("")),
        ApiRequest::post(&b.path("/members"))
            .json(json!({"email": "spy@example.com", "role": "admin"})),
    ] {
        assert_eq!(send(&env.app, request.by(&a.admin)).await.status, 403);
    }
    assert_eq!(
        send(&env.app, ApiRequest::get(&b.path("/me")).by(&b_member))
            .await
            .status,
        200
    );
    assert_eq!(list(&env, &b, "").await.body["totalElements"], 2);
}

#[tokio::test]
async fn members_are_paged_like_spring() {
    let env = TestEnv::new().await;
    let org = create_org(&env, "Paged Corp").await;
    for i in 0..6 {
        let reply = add(&env, &org, &org.admin, json!({"email": format!("m{i}@example.com"), "role": "viewer", "username": format!("user{i}")})).await;
        assert_eq!(reply.status, 200);
    }
    env.round_trips.reset();
    let first = list(&env, &org, "?size=3").await;
    assert_eq!(
        env.round_trips.get(),
        2,
        "a member list is one Query, and a GetItem of the profile sent with it"
    );
    assert_eq!(first.status, 200);
    let body = &first.body;
    assert_eq!(body["content"].as_array().unwrap().len(), 3);
    assert_eq!(body["totalElements"], 7);
    assert_eq!(body["totalPages"], 3);
    assert_eq!(body["number"], 0);
    assert_eq!(body["size"], 3);
    assert_eq!(body["numberOfElements"], 3);
    assert_eq!(body["first"], true);
    assert_eq!(body["last"], false);
    assert_eq!(body["empty"], false);
    assert_eq!(
        body["sort"],
        json!({"empty": false, "sorted": true, "unsorted": false})
    );
    assert_eq!(
        body["pageable"],
        json!({
            "offset": 0, "pageNumber": 0, "pageSize": 3, "paged": true, "unpaged": false,
            "sort": {"empty": false, "sorted": true, "unsorted": false}
        })
    );
    // Default order: joinedAt ascending, the creator first.
    assert_eq!(body["content"][0]["role"], "admin");

    let last = list(&env, &org, "?size=3&page=2").await.body;
    assert_eq!(last["numberOfElements"], 1);
    assert_eq!(last["last"], true);
    assert_eq!(last["first"], false);
    assert_eq!(last["pageable"]["offset"], 6);
    let past = list(&env, &org, "?size=3&page=5").await.body;
    assert_eq!(past["empty"], true);
    assert_eq!(past["content"], json!([]));
    assert_eq!(past["totalElements"], 7);

    let by_email = list(&env, &org, "?sort=email,desc&size=100").await.body;
    let emails: Vec<&str> = by_email["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"]["email"].as_str().unwrap())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.to_lowercase()));
    assert_eq!(emails, sorted);
    let by_username = list(&env, &org, "?sort=username").await.body;
    assert_eq!(by_username["content"][0]["username"], "admin");

    for query in [
        "?page=-1",
        "?page=x",
        "?size=0",
        "?size=101",
        "?sort=bogus",
        "?sort=email,sideways",
        "?page=1&page=2",
    ] {
        let reply = list(&env, &org, query).await;
        assert_eq!(reply.status, 400, "{query}");
        assert!(!reply.details().is_empty());
    }
}

#[tokio::test]
async fn concurrent_adds_are_all_kept() {
    let env = TestEnv::new().await;
    let org = create_org(&env, "Crowd Corp").await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let app = env.app.clone();
        let request = ApiRequest::post(&org.path("/members"))
            .by(&org.admin)
            .json(json!({"email": format!("crowd{i}@example.com"), "role": "developer"}));
        tasks.push(tokio::spawn(async move { send(&app, request).await }));
    }
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let page = list(&env, &org, "?size=100").await.body;
    assert_eq!(page["totalElements"], 21);
}

/// A verified token whose e-mail only looks like the invited address (U+212A KELVIN SIGN for
/// `K`, which lower-cases to `k`; a zero-width space) never claims the invitation; the real
/// address still does.
#[tokio::test]
async fn a_look_alike_token_email_never_claims_an_invitation() {
    let env = TestEnv::new().await;
    let org = create_org(&env, "Kelvin Corp").await;
    let added = add(
        &env,
        &org,
        &org.admin,
        json!({"email": "kim@corp.com", "role": "admin", "kubernetesRole": "CLUSTER_ADMIN"}),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);

    let mut kelvin = TestUser::new("kelvin");
    kelvin.email = Some("\u{212A}im@corp.com".to_owned());
    kelvin.email_verified = true;
    let mut zero_width = TestUser::new("zero-width");
    zero_width.email = Some("kim\u{200B}@corp.com".to_owned());
    for user in [&kelvin, &zero_width] {
        // As the JWT authorizer passes the claims, and as the local bearer path verifies them.
        let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(user)).await;
        assert_eq!(me.status, 403, "{:?}: {}", user.email, me.body);
        let me = send(
            &env.app,
            ApiRequest::get(&org.path("/me")).bearer(&user.token(300)),
        )
        .await;
        assert_eq!(me.status, 403, "{:?}: {}", user.email, me.body);
        let members = send(&env.app, ApiRequest::get(&org.path("/members")).by(user)).await;
        assert_eq!(members.status, 403, "{:?}: {}", user.email, members.body);
    }

    // The invitation is still unclaimed, and kim@corp.com's own token claims it.
    let page = list(&env, &org, "").await;
    let invited = page.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"]["email"] == "kim@corp.com")
        .unwrap()
        .clone();
    assert_eq!(invited["subject"], Value::Null, "{invited}");
    let mut kim = TestUser::new("kim");
    kim.email = Some("Kim@Corp.com".to_owned());
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&kim)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["subject"], kim.sub.as_str());
    assert_eq!(me.body["identity"], invited["identity"]);
}

/// A caller whose token e-mail is a look-alike can still sign in and create an organisation,
/// but that address is not recorded as their membership e-mail.
#[tokio::test]
async fn a_look_alike_token_email_is_not_a_membership_email() {
    let env = TestEnv::new().await;
    let mut kelvin = TestUser::new("kelvin");
    kelvin.email = Some("\u{212A}im@corp.com".to_owned());
    let slug = create_organisation(&env.app, &kelvin, "Kelvin Own Corp", "BUSINESS").await;
    let me = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/organisations/{slug}/me")).by(&kelvin),
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["email"], Value::Null, "{}", me.body);
    assert!(!me.body.to_string().contains('\u{212A}'), "{}", me.body);
}

/// Look-alike and invisible characters in an address given as input are 400 with a field error.
#[tokio::test]
async fn look_alike_addresses_are_refused_as_input() {
    let env = TestEnv::new().await;
    let org = create_org(&env, "Lookalike Input Corp").await;
    let refused = |reply: &Reply, field: &str, code_point: &str| {
        assert_eq!(reply.status, 400, "{}", reply.body);
        let details = reply.details();
        assert!(
            details
                .iter()
                .any(|d| d.starts_with(&format!("{field}: ")) && d.contains(code_point)),
            "{field} / {code_point}: {details:?}"
        );
    };

    for (email, code_point) in [
        ("\u{212A}im@corp.com", "U+212A"),
        ("kim\u{200B}@corp.com", "U+200B"),
        ("\u{202E}moc.proc@mik", "U+202E"),
        ("\u{FF4B}im@corp.com", "U+FF4B"),
    ] {
        let reply = add(
            &env,
            &org,
            &org.admin,
            json!({"email": email, "role": "viewer"}),
        )
        .await;
        refused(&reply, "email", code_point);
    }

    let create = send(
        &env.app,
        ApiRequest::post("/api/v1/organisations")
            .by(&org.admin)
            .json(json!({
                "organisationName": "Lookalike Contact",
                "organisationType": "BUSINESS",
                "contactEmail": {"email": "ops\u{2066}@corp.com"},
                "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                                       {"agreementSlug": "privacy-policy"}]
            })),
    )
    .await;
    refused(&create, "contactEmail", "U+2066");

    let patch = send(
        &env.app,
        ApiRequest::patch(&format!("/api/v1/organisations/{}", org.slug))
            .by(&org.admin)
            .json(json!({"billingEmail": "billing@\u{212A}orp.com"})),
    )
    .await;
    refused(&patch, "billingEmail", "U+212A");

    // Nothing was added: the admin is the only member.
    assert_eq!(list(&env, &org, "").await.body["totalElements"], 1);
}
