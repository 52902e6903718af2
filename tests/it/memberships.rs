//! The caller's organisations (`/api/v1/memberships`): the list, accept, decline, leave; an
//! admin's role change; invitation expiry.

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

async fn create_org(env: &TestEnv, admin: &TestUser, name: &str) -> Org {
    let slug = create_organisation(&env.app, admin, name, "BUSINESS").await;
    Org {
        slug,
        admin: admin.clone(),
    }
}

async fn identity(env: &TestEnv, org: &Org) -> String {
    let reply = send(&env.app, ApiRequest::get(&org.path("")).by(&org.admin)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["identity"].as_str().unwrap().to_owned()
}

async fn invite(env: &TestEnv, org: &Org, user: &TestUser, role: &str) {
    let reply = send(
        &env.app,
        ApiRequest::post(&org.path("/members"))
            .by(&org.admin)
            .json(json!({"email": user.email(), "role": role})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

async fn memberships(env: &TestEnv, user: &TestUser, query: &str) -> Reply {
    let reply = send(
        &env.app,
        ApiRequest::get(&format!("/api/v1/memberships{query}")).by(user),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
}

fn slugs(reply: &Reply) -> Vec<String> {
    reply.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap().to_owned())
        .collect()
}

async fn accept(env: &TestEnv, user: &TestUser, id: &str) -> Reply {
    send(
        &env.app,
        ApiRequest::post(&format!("/api/v1/memberships/{id}/accept")).by(user),
    )
    .await
}

async fn leave(env: &TestEnv, user: &TestUser, id: &str) -> Reply {
    send(
        &env.app,
        ApiRequest::delete(&format!("/api/v1/memberships/{id}")).by(user),
    )
    .await
}

/// The identity's lookup and the caller's invitations from the index at once, then the
/// profile, the invitation and the invited member in one BatchGet, then the write: three steps
/// (the member is not read after the BatchGet).
fn assert_invited_member_read_with_the_profile(env: &TestEnv, what: &str) {
    let mut operations = env.round_trips.operations();
    operations[..2].sort();
    assert_eq!(
        operations,
        ["GetItem", "Query", "BatchGetItem", "TransactWriteItems"],
        "{what}'s round trips"
    );
}

async fn activity_types(env: &TestEnv, org: &Org) -> Vec<String> {
    let reply = send(
        &env.app,
        ApiRequest::get(&org.path("/activity?size=100")).by(&org.admin),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_list_shows_joined_and_invited_organisations_with_current_names() {
    let env = TestEnv::new().await;
    let bob = TestUser::new("bob");
    let own = create_org(&env, &bob, "Bob Own").await;
    let alice = TestUser::new("alice");
    let invited = create_org(&env, &alice, "Invited Corp").await;
    invite(&env, &invited, &bob, "developer").await;

    env.round_trips.reset();
    let page = memberships(&env, &bob, "").await;
    assert_eq!(
        env.round_trips.get(),
        3,
        "two Queries (subject, address) and one BatchGet"
    );
    assert_eq!(slugs(&page), [own.slug.clone(), invited.slug.clone()]);
    let first = &page.body["content"][0];
    assert_eq!(first["name"], "Bob Own");
    assert_eq!(first["slug"], own.slug.as_str(), "a plain string here");
    assert_eq!(first["email"], bob.email());
    assert_eq!(first["role"], "admin");
    assert_eq!(first["kubernetesRole"], "CLUSTER_ADMIN");
    assert_eq!(first["status"], "ACTIVE");
    assert_eq!(first["expiresAt"], Value::Null);
    assert!(first["joinedAt"].is_string());
    assert_eq!(first["id"], identity(&env, &own).await.as_str());
    let second = &page.body["content"][1];
    assert_eq!(second["status"], "INVITED");
    assert_eq!(second["role"], "developer");
    assert_eq!(second["joinedAt"], Value::Null);
    assert!(second["invitedAt"].is_string());
    assert!(second["expiresAt"].is_string());
    assert_eq!(page.body["totalElements"], 2);
    assert_eq!(page.body["last"], true);

    // Listing claims nothing: alice's member list still shows bob as invited.
    let members = send(
        &env.app,
        ApiRequest::get(&invited.path("/members")).by(&alice),
    )
    .await;
    let bob_there = members.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"]["email"] == bob.email())
        .unwrap()
        .clone();
    assert_eq!(bob_there["subject"], Value::Null);
    assert_eq!(bob_there["status"], "INVITED");

    // A rename shows at once.
    let renamed = send(
        &env.app,
        ApiRequest::patch(&invited.path(""))
            .by(&alice)
            .json(json!({"organisationName": "Renamed Corp"})),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let page = memberships(&env, &bob, "").await;
    assert_eq!(page.body["content"][1]["name"], "Renamed Corp");

    // A deleted organisation disappears at once.
    let id = identity(&env, &own).await;
    let deleted = send(
        &env.app,
        ApiRequest::delete(&format!("/api/v1/organisations/{id}")).by(&bob),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let page = memberships(&env, &bob, "").await;
    assert_eq!(slugs(&page), [invited.slug.as_str()]);
}

#[tokio::test]
async fn an_unverified_address_sees_only_joined_organisations_and_pages_follow_spring() {
    let env = TestEnv::new().await;
    let bob = TestUser::new("bob");
    let mut orgs = Vec::new();
    for name in ["Page One", "Page Two", "Page Three"] {
        orgs.push(create_org(&env, &bob, name).await);
    }
    let alice = TestUser::new("alice");
    let invited = create_org(&env, &alice, "Invited Corp").await;
    invite(&env, &invited, &bob, "viewer").await;

    let mut unverified = bob.clone();
    unverified.email_verified = false;
    let page = memberships(&env, &unverified, "").await;
    assert_eq!(page.body["totalElements"], 3);
    assert!(page.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["status"] == "ACTIVE"));

    let expected: Vec<String> = orgs
        .iter()
        .map(|o| o.slug.clone())
        .chain([invited.slug.clone()])
        .collect();
    let mut seen = Vec::new();
    for number in 0.. {
        let page = memberships(&env, &bob, &format!("?size=3&page={number}")).await;
        assert_eq!(page.body["size"], 3);
        assert_eq!(page.body["number"], number);
        assert_eq!(page.body["totalElements"], 4);
        assert_eq!(page.body["totalPages"], 2);
        seen.extend(slugs(&page));
        if page.body["last"] == true {
            break;
        }
    }
    assert_eq!(seen, expected, "oldest first, every one once");

    for bad in ["?size=0", "?size=101", "?page=-1", "?sort=name"] {
        let reply = send(
            &env.app,
            ApiRequest::get(&format!("/api/v1/memberships{bad}")).by(&bob),
        )
        .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert!(!reply.message().is_empty());
    }
    let anonymous = send(&env.app, ApiRequest::get("/api/v1/memberships")).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn expired_invitations_are_not_listed_claimed_or_accepted() {
    let mut env = TestEnv::new().await;
    env.app.invitation_ttl_days = 0;
    let alice = TestUser::new("alice");
    let org = create_org(&env, &alice, "Expiry Corp").await;
    let bob = TestUser::new("bob");
    invite(&env, &org, &bob, "developer").await;

    let page = memberships(&env, &bob, "").await;
    assert_eq!(page.body["totalElements"], 0, "{}", page.body);

    // First use answers as for a non-member.
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&bob)).await;
    assert_eq!(me.status, 403, "{}", me.body);

    let id = identity(&env, &org).await;
    let accepted = accept(&env, &bob, &id).await;
    assert_eq!(accepted.status, 410, "{}", accepted.body);
    assert!(accepted.message().contains("expired"));

    // Admins see it as expired, and may remove it.
    let members = send(&env.app, ApiRequest::get(&org.path("/members")).by(&alice)).await;
    let expired = members.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"]["email"] == bob.email())
        .unwrap()
        .clone();
    assert_eq!(expired["status"], "EXPIRED");
    assert!(expired["expiresAt"].is_string());
    let removed = send(
        &env.app,
        ApiRequest::delete(&org.path(&format!(
            "/members/{}",
            expired["identity"].as_str().unwrap()
        )))
        .by(&alice),
    )
    .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
}

#[tokio::test]
async fn accepting_claims_the_invitation_once_and_answers_the_membership() {
    let env = TestEnv::new().await;
    let alice = TestUser::new("alice");
    let org = create_org(&env, &alice, "Accept Corp").await;
    let id = identity(&env, &org).await;
    let bob = TestUser::new("bob");

    // No invitation yet: 404, as for an unknown organisation and a malformed identity (400).
    assert_eq!(accept(&env, &bob, &id).await.status, 404);
    assert_eq!(
        accept(&env, &bob, &uuid::Uuid::new_v4().to_string())
            .await
            .status,
        404
    );
    assert_eq!(accept(&env, &bob, "not-a-uuid").await.status, 400);

    invite(&env, &org, &bob, "developer").await;
    let mut unverified = bob.clone();
    unverified.email_verified = false;
    assert_eq!(accept(&env, &unverified, &id).await.status, 404);

    env.round_trips.reset();
    let accepted = accept(&env, &bob, &id).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_invited_member_read_with_the_profile(&env, "accept");
    assert_eq!(accepted.body["status"], "ACTIVE");
    assert_eq!(accepted.body["id"], id.as_str());
    assert_eq!(accepted.body["slug"], org.slug.as_str());
    assert_eq!(accepted.body["role"], "developer");
    assert!(accepted.body["joinedAt"].is_string());
    assert_eq!(accepted.body["expiresAt"], Value::Null);

    let again = accept(&env, &bob, &id).await;
    assert_eq!(again.status, 200, "idempotent: {}", again.body);
    assert_eq!(again.body["status"], "ACTIVE");
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&bob)).await;
    assert_eq!(me.body["subject"], bob.sub.as_str());
    let types = activity_types(&env, &org).await;
    assert_eq!(
        types.iter().filter(|t| *t == "MEMBER_JOINED").count(),
        1,
        "{types:?}"
    );
}

#[tokio::test]
async fn members_leave_and_invitations_are_declined_but_the_last_admin_stays() {
    let env = TestEnv::new().await;
    let alice = TestUser::new("alice");
    let org = create_org(&env, &alice, "Leave Corp").await;
    let id = identity(&env, &org).await;

    let last = leave(&env, &alice, &id).await;
    assert_eq!(last.status, 400, "{}", last.body);
    assert!(last.message().contains("last admin"), "{}", last.body);

    // Decline.
    let carol = TestUser::new("carol");
    invite(&env, &org, &carol, "viewer").await;
    env.round_trips.reset();
    let declined = leave(&env, &carol, &id).await;
    assert_eq!(declined.status, 204, "{}", declined.body);
    assert_invited_member_read_with_the_profile(&env, "decline");
    assert_eq!(memberships(&env, &carol, "").await.body["totalElements"], 0);
    assert_eq!(accept(&env, &carol, &id).await.status, 404);

    // Leave.
    let bob = TestUser::new("bob");
    invite(&env, &org, &bob, "admin").await;
    assert_eq!(accept(&env, &bob, &id).await.status, 200);
    let left = leave(&env, &alice, &id).await;
    assert_eq!(
        left.status, 204,
        "alice may go now that bob is admin: {}",
        left.body
    );
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&alice)).await;
    assert_eq!(me.status, 403);
    assert_eq!(
        leave(&env, &alice, &id).await.status,
        404,
        "nothing to leave"
    );
    assert_eq!(
        leave(&env, &bob, &id).await.status,
        400,
        "bob is the last admin now"
    );

    let org_for_bob = Org {
        slug: org.slug.clone(),
        admin: bob.clone(),
    };
    let types = activity_types(&env, &org_for_bob).await;
    assert!(
        types.contains(&"INVITATION_DECLINED".to_owned()),
        "{types:?}"
    );
    assert!(types.contains(&"MEMBER_LEFT".to_owned()), "{types:?}");
}

#[tokio::test]
async fn concurrent_accept_and_leave_of_one_invitation_end_in_one_consistent_state() {
    let env = TestEnv::new().await;
    let alice = TestUser::new("alice");
    let org = create_org(&env, &alice, "Race Corp").await;
    let id = identity(&env, &org).await;
    for round in 0..4 {
        let bob = TestUser::new(&format!("bob{round}"));
        invite(&env, &org, &bob, "developer").await;
        let (accepted, left) = tokio::join!(accept(&env, &bob, &id), leave(&env, &bob, &id));
        assert!([200, 404].contains(&accepted.status), "{}", accepted.body);
        assert_eq!(left.status, 204, "{}", left.body);
        // Whatever the order, bob holds nothing afterwards and his records are gone.
        let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&bob)).await;
        assert_eq!(me.status, 403, "round {round}");
        assert_eq!(memberships(&env, &bob, "").await.body["totalElements"], 0);
    }
    let members = send(&env.app, ApiRequest::get(&org.path("/members")).by(&alice)).await;
    assert_eq!(members.body["totalElements"], 1, "{}", members.body);
    let items = env.partition(&org.slug, "MEMBER").await;
    assert_eq!(
        items.len(),
        3,
        "alice's member, by-subject and by-email items only"
    );
}

#[tokio::test]
async fn admins_change_roles_with_if_match_and_idempotency_keys() {
    let env = TestEnv::new().await;
    let alice = TestUser::new("alice");
    let org = create_org(&env, &alice, "Role Corp").await;
    let id = identity(&env, &org).await;
    let bob = TestUser::new("bob");
    invite(&env, &org, &bob, "viewer").await;
    let accepted = accept(&env, &bob, &id).await;
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&bob)).await;
    let bob_identity = me.body["identity"].as_str().unwrap().to_owned();
    let joined_at = me.body["joinedAt"].clone();
    assert_eq!(accepted.status, 200);
    let path = org.path(&format!("/members/{bob_identity}"));

    let patched = send(
        &env.app,
        ApiRequest::patch(&path)
            .by(&alice)
            .json(json!({"role": "BILLING_ADMIN", "kubernetesRole": "edit"})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["role"], "billing-admin");
    assert_eq!(patched.body["kubernetesRole"], "EDIT");
    assert_eq!(patched.body["joinedAt"], joined_at, "joinedAt is kept");
    assert_eq!(patched.body["subject"], bob.sub.as_str());
    let etag = patched.headers["etag"].to_str().unwrap().to_owned();
    let types = activity_types(&env, &org).await;
    assert_eq!(types[0], "MEMBER_UPDATED", "{types:?}");

    // If-Match: a stale tag is 412, the current one goes through.
    let stale = send(
        &env.app,
        ApiRequest::patch(&path)
            .by(&alice)
            .header("if-match", "\"00000000-0000-0000-0000-000000000000.1\"")
            .json(json!({"role": "developer"})),
    )
    .await;
    assert_eq!(stale.status, 412, "{}", stale.body);
    let current = send(
        &env.app,
        ApiRequest::patch(&path)
            .by(&alice)
            .header("if-match", &etag)
            .json(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(current.status, 200, "{}", current.body);

    // Idempotency-Key: the retry is replayed, nothing is written twice.
    let keyed = || {
        ApiRequest::patch(&path)
            .by(&alice)
            .header("idempotency-key", "demote-bob-1")
            .json(json!({"role": "developer"}))
    };
    let first = send(&env.app, keyed()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let before = activity_types(&env, &org).await.len();
    let second = send(&env.app, keyed()).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(activity_types(&env, &org).await.len(), before);

    // The last joined admin cannot be demoted; bad bodies and unknown members are refused.
    let me = send(&env.app, ApiRequest::get(&org.path("/me")).by(&alice)).await;
    let alice_path = org.path(&format!(
        "/members/{}",
        me.body["identity"].as_str().unwrap()
    ));
    let demote = send(
        &env.app,
        ApiRequest::patch(&alice_path)
            .by(&alice)
            .json(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(demote.status, 400, "{}", demote.body);
    assert!(demote.message().contains("last admin"));
    for body in [json!({}), json!({"role": "owner"}), json!({"subject": "x"})] {
        let reply = send(
            &env.app,
            ApiRequest::patch(&path).by(&alice).json(body.clone()),
        )
        .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
    }
    let unknown = send(
        &env.app,
        ApiRequest::patch(&org.path(&format!("/members/{}", uuid::Uuid::new_v4())))
            .by(&alice)
            .json(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(unknown.status, 404);
    // Only admins.
    let by_bob = send(
        &env.app,
        ApiRequest::patch(&alice_path)
            .by(&bob)
            .json(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(by_bob.status, 403, "{}", by_bob.body);
}

#[tokio::test]
async fn an_invitation_is_mailed_and_can_be_sent_again_within_the_mail_limits() {
    let mut env = TestEnv::new().await;
    env.app.console_url = "https://console.example.test".to_owned();
    let alice = TestUser::new("alice");
    let org = create_org(&env, &alice, "Mail Corp").await;
    let before = env.mails().len();
    let bob = TestUser::new("bob");
    invite(&env, &org, &bob, "developer").await;
    let mails = env.mails();
    assert_eq!(mails.len(), before + 1, "{mails:?}");
    let mail = mails
        .iter()
        .find(|m| m.to == bob.email())
        .expect("a mail to bob");
    assert!(mail.subject.contains("Mail Corp"), "{}", mail.subject);
    assert!(
        mail.body.contains("alice"),
        "the inviting admin: {}",
        mail.body
    );
    assert!(mail.body.contains("developer"), "the role: {}", mail.body);
    assert!(
        mail.body.contains("https://console.example.test"),
        "{}",
        mail.body
    );

    let members = send(&env.app, ApiRequest::get(&org.path("/members")).by(&alice)).await;
    let invited = members.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"]["email"] == bob.email())
        .unwrap()
        .clone();
    let resend_path = org.path(&format!(
        "/members/{}/invitation/resend",
        invited["identity"].as_str().unwrap()
    ));
    // The add's mail went less than a minute ago: 429 with Retry-After, nothing sent.
    let early = send(&env.app, ApiRequest::post(&resend_path).by(&alice)).await;
    assert_eq!(early.status, 429, "{}", early.body);
    assert!(early.headers.contains_key("retry-after"));
    assert!(!early.message().is_empty());
    assert_eq!(env.mails().len(), before + 1);

    // A minute later (the organisation's record of its mails moved back), it is sent again
    // with a new expiry.
    let hash = shared::domain::verification::address_hash(
        &shared::domain::Email::parse("e", bob.email()).unwrap(),
    );
    let slug = shared::domain::Slug::parse(&org.slug).unwrap();
    let mut profile = env.store().organisation(&slug).await.unwrap().unwrap();
    let to_bob: Vec<_> = profile
        .mails_sent
        .0
        .iter_mut()
        .filter(|m| m.is_to(&hash))
        .collect();
    assert_eq!(
        to_bob.len(),
        1,
        "the invitation counts as a mail to the address"
    );
    for mail in to_bob {
        mail.at = chrono::Utc::now() - chrono::Duration::seconds(61);
    }
    env.store().seed(&profile, &slug).await.unwrap();
    let resent = send(&env.app, ApiRequest::post(&resend_path).by(&alice)).await;
    assert_eq!(resent.status, 202, "{}", resent.body);
    assert_eq!(env.mails().len(), before + 2);
    let members = send(&env.app, ApiRequest::get(&org.path("/members")).by(&alice)).await;
    let renewed = members.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"]["email"] == bob.email())
        .unwrap()
        .clone();
    assert!(
        renewed["expiresAt"].as_str().unwrap() > invited["expiresAt"].as_str().unwrap(),
        "{renewed} vs {invited}"
    );

    // Only admins; not once joined; not for an unknown member.
    let id = identity(&env, &org).await;
    assert_eq!(accept(&env, &bob, &id).await.status, 200);
    let by_bob = send(&env.app, ApiRequest::post(&resend_path).by(&bob)).await;
    assert_eq!(by_bob.status, 403, "{}", by_bob.body);
    let joined = send(&env.app, ApiRequest::post(&resend_path).by(&alice)).await;
    assert_eq!(joined.status, 400, "{}", joined.body);
    assert!(joined.message().contains("already joined"));
    let unknown = send(
        &env.app,
        ApiRequest::post(&org.path(&format!(
            "/members/{}/invitation/resend",
            uuid::Uuid::new_v4()
        )))
        .by(&alice),
    )
    .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn pending_invitations_are_capped_by_configuration() {
    let mut env = TestEnv::new().await;
    env.app.max_pending_invitations = 2;
    let alice = TestUser::new("alice");
    let org = create_org(&env, &alice, "Cap Corp").await;
    let bob = TestUser::new("bob");
    let carol = TestUser::new("carol");
    invite(&env, &org, &bob, "viewer").await;
    invite(&env, &org, &carol, "viewer").await;
    let dave = TestUser::new("dave");
    let refused = send(
        &env.app,
        ApiRequest::post(&org.path("/members"))
            .by(&alice)
            .json(json!({"email": dave.email(), "role": "viewer"})),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.message().contains("pending invitations"),
        "{}",
        refused.body
    );
    // A joined invitation no longer counts.
    let id = identity(&env, &org).await;
    assert_eq!(accept(&env, &bob, &id).await.status, 200);
    invite(&env, &org, &dave, "viewer").await;
}

#[tokio::test]
async fn the_platforms_go_client_pages_memberships_and_reads_the_admin_slug_as_a_string() {
    let env = TestEnv::new().await;
    let bob = TestUser::new("bob");
    for name in ["Go One", "Go Two"] {
        create_org(&env, &bob, name).await;
    }
    // GetMemberships: GetPaged sends only `page` and stops at `last`; items decode into
    // {id, name, slug, email} strings (a null e-mail decodes as "" in Go).
    let mut names = Vec::new();
    for page in 0.. {
        let reply = memberships(&env, &bob, &format!("?page={page}")).await;
        for item in reply.body["content"].as_array().unwrap() {
            for field in ["id", "name", "slug", "email"] {
                assert!(item[field].is_string(), "{field}: {item}");
            }
            names.push(item["name"].as_str().unwrap().to_owned());
        }
        if reply.body["last"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(names, ["Go One", "Go Two"]);
    // The admin client's GetOrganisation decodes `slug` as a string.
    let olga = TestUser::operator("olga");
    let org = Org {
        slug: slugs(&memberships(&env, &bob, "").await)[0].clone(),
        admin: bob.clone(),
    };
    let id = identity(&env, &org).await;
    let admin = send(
        &env.app,
        ApiRequest::get(&format!("/admin/v1/orgs/{id}")).by(&olga),
    )
    .await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(admin.body["slug"], org.slug.as_str());
    // Its error handling reads `message`: every 4xx has one, an unknown route's too.
    let unknown = send(
        &env.app,
        ApiRequest::get("/api/v1/memberships/not/a/route").by(&bob),
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(!unknown.message().is_empty(), "{}", unknown.body);
}

/// Removes the `gsi1` keys of every member item of the table: members as they were stored
/// before the memberships list existed.
async fn strip_index_keys(env: &TestEnv) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue;
    let client = env.app.store.client();
    let items = client
        .scan()
        .table_name(&env.table)
        .filter_expression("entity = :member")
        .expression_attribute_values(":member", AttributeValue::S("member".into()))
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    for item in &items {
        client
            .update_item()
            .table_name(&env.table)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .update_expression("REMOVE gsi1pk, gsi1sk")
            .send()
            .await
            .expect("strip the index keys");
    }
    items.len()
}

#[tokio::test]
async fn members_stored_before_the_index_are_listed_after_the_backfill() {
    let env = TestEnv::new().await;
    let alice = TestUser::new("backfill-alice");
    let bob = TestUser::new("backfill-bob");
    let carol = TestUser::new("backfill-carol");
    let org = create_org(&env, &alice, "Stored Before").await;
    invite(&env, &org, &bob, "developer").await;
    invite(&env, &org, &carol, "viewer").await;
    // Bob claims his invitation: bound to his subject; Carol's stays an invitation.
    assert_eq!(memberships(&env, &bob, "").await.body["totalElements"], 1);
    let id = identity(&env, &org).await;
    assert_eq!(accept(&env, &bob, &id).await.status, 200);

    assert_eq!(strip_index_keys(&env).await, 3);
    for user in [&alice, &bob, &carol] {
        let page = memberships(&env, user, "").await;
        assert_eq!(page.body["totalElements"], 0, "{}", page.body);
    }

    let store = &env.app.store;
    let dry = store
        .backfill_membership_index(true)
        .await
        .expect("dry run");
    assert_eq!((dry.found, dry.indexed, dry.skipped), (3, 3, 0));
    assert_eq!(memberships(&env, &alice, "").await.body["totalElements"], 0);

    let report = store
        .backfill_membership_index(false)
        .await
        .expect("backfill");
    assert_eq!((report.found, report.indexed, report.skipped), (3, 3, 0));
    for (user, status) in [(&alice, "ACTIVE"), (&bob, "ACTIVE"), (&carol, "INVITED")] {
        let page = memberships(&env, user, "").await;
        assert_eq!(slugs(&page), vec![org.slug.clone()], "{}", page.body);
        assert_eq!(page.body["content"][0]["status"], status, "{}", page.body);
    }
    // Carol can still accept: her entry is the invitation's.
    assert_eq!(accept(&env, &carol, &id).await.status, 200);

    let again = store.backfill_membership_index(false).await.expect("again");
    assert_eq!((again.found, again.indexed, again.skipped), (0, 0, 0));
}
