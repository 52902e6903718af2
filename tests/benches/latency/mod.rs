//! `make bench` section `routes`: every route as a user in AWS would see it. The handlers run
//! in process (release build) with their DynamoDB client pointed at `devtools::delay_proxy`, which
//! holds every request `DDB_DELAY_MS` (default 5 ms, a same-region DynamoDB call) before passing
//! it to DynamoDB Local and records when it started and ended and the capacity it consumed.
//!
//! Per route: round trips, sequential round trips (the critical path: requests whose intervals
//! overlap count once), p50 and p99 of the call, the floor (sequential round trips × delay) and
//! p50 / floor; then CPU time, request units, billed duration and cost per million calls at the
//! template's memory size and at 128 MB ([`prices`]).
//!
//! The routes are the list [`CASES`]: a new route is one entry and one function that prepares its
//! calls (each call is made once; reads repeat the same request).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use api_tests::events::Reply;
use api_tests::vies::FakeVies;
use api_tests::{ApiRequest, TestEnv, TestUser};
use devtools::delay_proxy::{self, Proxy};
use serde_json::{json, Value};
use shared::publisher::{Publisher, StreamEvent};
use shared::App;

/// Prices in one place. Read on 2026-12-06 (US East, N. Virginia), see docs/benchmarks.md:
/// Lambda arm64 from <https://cloudchipr.com/blog/aws-lambda-pricing> (first 7.5 billion GB-s a
/// month) and <https://aws.amazon.com/lambda/pricing/> (1 ms billing); DynamoDB on-demand from
/// <https://airbyte.com/data-engineering-resources/dynamodb-pricing>. Not read from the AWS price
/// pages themselves: the stored copies of those do not show the figures (unverified there).
pub mod prices {
    pub const READ_ON: &str = "2026-12-06";
    /// Lambda arm64, per GB-second of billed duration.
    pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// DynamoDB on-demand, per read request unit.
    pub const DYNAMODB_RRU: f64 = 0.125 / 1e6;
    /// DynamoDB on-demand, per write request unit.
    pub const DYNAMODB_WRU: f64 = 0.625 / 1e6;
    /// The memory at which a function has one full vCPU (Lambda's CPU share is proportional).
    pub const FULL_VCPU_MB: f64 = 1769.0;
}

const WARM_UP: usize = 20;
const SAMPLES: usize = 200;

/// What the routes run against: the table (set up through `env`, straight to DynamoDB Local) and
/// the app the measured calls go through (the same table, through the proxy).
pub struct Bench {
    env: TestEnv,
    app: App,
    proxy: Proxy,
    bridge_proxy: Proxy,
    publisher: Publisher,
    admin: TestUser,
    operator: TestUser,
    /// A standing organisation: admin, 9 more members, a verified VAT number.
    slug: String,
    identity: String,
}

/// One call of a route, made once. (Built once per run and consumed in order: the size of the
/// largest variant costs nothing worth a box.)
#[allow(clippy::large_enum_variant)]
pub enum Call {
    Api(ApiRequest),
    /// The bodies of one SQS batch.
    PlatformEvents(Vec<String>),
    /// A VAT re-validation run after `due` organisations were made due (not timed).
    VatRun {
        due: usize,
    },
    Publish(StreamEvent),
    /// One GetItem of the profile: what a round trip costs here beyond the delay.
    RawGet,
}

type Prepared<'a> = Pin<Box<dyn Future<Output = Vec<Call>> + 'a>>;

/// A row of the table: its name, its number of timed calls, and what prepares its calls (for
/// `n` = warm-up + timed calls).
pub struct Case {
    pub name: &'static str,
    pub samples: usize,
    pub prepare: for<'a> fn(&'a Bench, usize) -> Prepared<'a>,
}

const fn case(name: &'static str, prepare: for<'a> fn(&'a Bench, usize) -> Prepared<'a>) -> Case {
    Case {
        name,
        samples: SAMPLES,
        prepare,
    }
}

/// Every route of the API, and the three batch jobs.
pub const CASES: &[Case] = &[
    case("POST /registration", register),
    case("POST /organisations", create),
    case("GET /organisations/{slug}", get_organisation),
    case("baseline: one GetItem (not a route)", raw_get),
    case("PATCH /organisations/{slug} (name)", patch_name),
    case("PATCH /organisations/{slug} (billing e-mail)", patch_email),
    case("PATCH /organisations/{slug} (VAT number)", patch_vat),
    case("DELETE /organisations/{slug}", delete_organisation),
    case("GET .../me", get_me),
    case("GET .../members (10)", list_members),
    case("POST .../members (invitation)", add_member),
    case("DELETE .../members/{identity}", remove_member),
    case("PATCH .../members/{identity} (role)", change_role),
    case(
        "POST .../members/{identity}/invitation/resend",
        resend_invitation,
    ),
    case("GET /memberships (10)", list_memberships),
    case("POST /memberships/{identity}/accept", accept_invitation),
    case("DELETE /memberships/{identity} (leave)", leave_organisation),
    case("GET .../activity (page 0)", list_activity),
    case("GET .../validation-status", validation_status),
    case("GET .../validation-status/vat", vat_legal_entity),
    case("POST .../validation-status/vat", confirm_legal_entity),
    case("POST .../validation-status/email/resend", resend),
    case("GET /validations/verify-email/{code}", verify_email),
    case("POST /validations/verify-email/{code}", confirm_email),
    case(
        "GET /compute-information/organisation/{slug}",
        compute_information,
    ),
    case("GET .../quotas", quotas),
    case("GET /admin/v1/orgs/{identity}", operator_get),
    case("PATCH /admin/v1/orgs/{identity}", operator_patch),
    case("platform-events: batch of 10", platform_events),
    Case {
        name: "vat-revalidation: 100 due",
        // Each run needs 100 organisations made due first (about 0.5 s untimed each).
        samples: 50,
        prepare: vat_revalidation,
    },
    case("event-publisher: batch of 100 records", publish),
];

fn org_body(name: &str, contact: &str) -> Value {
    json!({
        "organisationName": name,
        "organisationType": "BUSINESS",
        "contactEmail": {"email": contact},
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]
    })
}

fn repeat(request: ApiRequest, n: usize) -> Vec<Call> {
    (0..n).map(|_| Call::Api(request.clone())).collect()
}

fn ready<'a>(calls: Vec<Call>) -> Prepared<'a> {
    Box::pin(std::future::ready(calls))
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

impl Bench {
    fn org(&self) -> String {
        format!("/api/v1/organisations/{}", self.slug)
    }

    async fn setup(&self, request: ApiRequest) -> Reply {
        let reply = api_tests::send(&self.env.app, request).await;
        assert!(reply.status < 300, "setup: {} {}", reply.status, reply.body);
        reply
    }

    /// `n` organisations of the admin's, straight to DynamoDB Local: (slug, contact, identity).
    async fn organisations(&self, n: usize) -> Vec<(String, String, String)> {
        let mut made = Vec::with_capacity(n);
        let tag = unique();
        for i in 0..n {
            let contact = format!("c{i}-{tag}@route.example");
            let reply = self
                .setup(
                    ApiRequest::post("/api/v1/organisations")
                        .by(&self.admin)
                        .json(org_body(&format!("Route {tag} {i}"), &contact)),
                )
                .await;
            let slug = reply.body["slug"]["slugValue"].as_str().expect("slug");
            let identity = reply.body["identity"].as_str().expect("identity");
            made.push((slug.to_owned(), contact, identity.to_owned()));
        }
        made
    }
}

/// An invitation to a fresh user, made untimed.
struct Invited {
    user: TestUser,
    /// The organisation's slug and identity.
    slug: String,
    organisation: String,
    /// The membership's identity (the member add's `Location`).
    member: String,
}

impl Bench {
    /// `n` invitations to fresh users, [`INVITATIONS_PER_ORGANISATION`] to an organisation;
    /// with `accepted`, each claimed by its user.
    async fn invitations(&self, n: usize, accepted: bool) -> Vec<Invited> {
        const PER_ORGANISATION: usize = INVITATIONS_PER_ORGANISATION;
        let organisations = self.organisations(n.div_ceil(PER_ORGANISATION)).await;
        let mut made = Vec::with_capacity(n);
        for i in 0..n {
            let (slug, _, organisation) = &organisations[i / PER_ORGANISATION];
            let user = TestUser::new(&format!("invited{i}"));
            let added = self
                .setup(
                    ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
                        .by(&self.admin)
                        .json(json!({"email": user.email(), "role": "viewer"})),
                )
                .await;
            let location = added.headers["location"].to_str().expect("a Location");
            let member = location.rsplit('/').next().expect("an identity").to_owned();
            if accepted {
                self.setup(
                    ApiRequest::post(&format!("/api/v1/memberships/{organisation}/accept"))
                        .by(&user),
                )
                .await;
            }
            made.push(Invited {
                user,
                slug: slug.clone(),
                organisation: organisation.clone(),
                member,
            });
        }
        made
    }
}

fn change_role(b: &Bench, n: usize) -> Prepared<'_> {
    Box::pin(async move {
        // Ten members of one organisation, each call changing one of them in turn.
        let members = b.invitations(10, true).await;
        (0..n)
            .map(|i| {
                let invited = &members[i % members.len()];
                let role = if (i / members.len()) % 2 == 0 {
                    "developer"
                } else {
                    "viewer"
                };
                Call::Api(
                    ApiRequest::patch(&format!(
                        "/api/v1/organisations/{}/members/{}",
                        invited.slug, invited.member
                    ))
                    .by(&b.admin)
                    .json(json!({"role": role})),
                )
            })
            .collect()
    })
}

fn resend_invitation(b: &Bench, n: usize) -> Prepared<'_> {
    use shared::domain::Slug;
    Box::pin(async move {
        let invited = b.invitations(n, false).await;
        // The invitation mails went 2 minutes ago, as far as the mail record says: a re-send is
        // due (one a minute per address).
        let mut slugs: Vec<&str> = invited.iter().map(|i| i.slug.as_str()).collect();
        slugs.dedup();
        for slug in slugs {
            let slug = Slug::parse(slug).expect("slug");
            let store = b.env.store();
            let mut organisation = store
                .organisation(&slug)
                .await
                .expect("read")
                .expect("the organisation");
            let two_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(2);
            for mail in &mut organisation.mails_sent.0 {
                mail.at = two_minutes_ago;
            }
            store
                .seed(&organisation, &slug)
                .await
                .expect("seed the profile");
        }
        invited
            .iter()
            .map(|i| {
                Call::Api(
                    ApiRequest::post(&format!(
                        "/api/v1/organisations/{}/members/{}/invitation/resend",
                        i.slug, i.member
                    ))
                    .by(&b.admin),
                )
            })
            .collect()
    })
}

fn list_memberships(b: &Bench, n: usize) -> Prepared<'_> {
    Box::pin(async move {
        // One user, a member of ten organisations.
        let user = TestUser::new("listed");
        for (slug, _, identity) in b.organisations(10).await {
            b.setup(
                ApiRequest::post(&format!("/api/v1/organisations/{slug}/members"))
                    .by(&b.admin)
                    .json(json!({"email": user.email(), "role": "viewer"})),
            )
            .await;
            b.setup(ApiRequest::post(&format!("/api/v1/memberships/{identity}/accept")).by(&user))
                .await;
        }
        repeat(ApiRequest::get("/api/v1/memberships").by(&user), n)
    })
}

/// One call per invitation of [`Bench::invitations`]: `request` of each.
fn per_invitation<'a>(
    b: &'a Bench,
    n: usize,
    accepted: bool,
    request: impl Fn(&Invited) -> ApiRequest + 'a,
) -> Prepared<'a> {
    Box::pin(async move {
        let invited = b.invitations(n, accepted).await;
        invited.iter().map(|i| Call::Api(request(i))).collect()
    })
}

fn accept_invitation(b: &Bench, n: usize) -> Prepared<'_> {
    per_invitation(b, n, false, |i| {
        ApiRequest::post(&format!("/api/v1/memberships/{}/accept", i.organisation)).by(&i.user)
    })
}

fn leave_organisation(b: &Bench, n: usize) -> Prepared<'_> {
    per_invitation(b, n, true, |i| {
        ApiRequest::delete(&format!("/api/v1/memberships/{}", i.organisation)).by(&i.user)
    })
}

fn confirm_email(b: &Bench, n: usize) -> Prepared<'_> {
    Box::pin(async move {
        let links = verification_links(b, n).await;
        links
            .iter()
            .map(|link| Call::Api(ApiRequest::post(link)))
            .collect()
    })
}

fn raw_get(_: &Bench, n: usize) -> Prepared<'_> {
    ready((0..n).map(|_| Call::RawGet).collect())
}

fn register(b: &Bench, n: usize) -> Prepared<'_> {
    let tag = unique();
    let calls = (0..n)
        .map(|i| {
            let mut body = org_body(
                &format!("Registered {tag} {i}"),
                &format!("r{i}-{tag}@route.example"),
            );
            body["companyName"] = json!("Acme Cloud B.V.");
            body["companyAddress"] = json!("Keizersgracht 1, Amsterdam");
            Call::Api(
                ApiRequest::post("/api/v1/registration")
                    .by(&TestUser::new("registrant"))
                    .json(body),
            )
        })
        .collect();
    let _ = b;
    ready(calls)
}

fn create(b: &Bench, n: usize) -> Prepared<'_> {
    let tag = unique();
    ready(
        (0..n)
            .map(|i| {
                Call::Api(
                    ApiRequest::post("/api/v1/organisations")
                        .by(&b.admin)
                        .json(org_body(
                            &format!("Fresh {tag} {i}"),
                            &format!("f{i}-{tag}@route.example"),
                        )),
                )
            })
            .collect(),
    )
}

fn get_organisation(b: &Bench, n: usize) -> Prepared<'_> {
    ready(repeat(ApiRequest::get(&b.org()).by(&b.admin), n))
}

fn patch_name(b: &Bench, n: usize) -> Prepared<'_> {
    ready(
        (0..n)
            .map(|i| {
                Call::Api(
                    ApiRequest::patch(&b.org())
                        .by(&b.admin)
                        .json(json!({"organisationName": format!("Bench Org {i}")})),
                )
            })
            .collect(),
    )
}

/// `n` calls of `request` (given an organisation's path and the call's number), `per` on each
/// of fresh organisations made untimed: for the writes that spend a budget of the organisation
/// (mails: 200 a day; VAT number changes: 10 a day), as a day of real use would spread them.
fn on_fresh_organisations<'a>(
    b: &'a Bench,
    n: usize,
    per: usize,
    request: impl Fn(&str, usize) -> ApiRequest + 'a,
) -> Prepared<'a> {
    Box::pin(async move {
        let organisations = b.organisations(n.div_ceil(per)).await;
        (0..n)
            .map(|i| {
                let (slug, _, _) = &organisations[i / per];
                let path = format!("/api/v1/organisations/{slug}");
                Call::Api(request(&path, i).by(&b.admin))
            })
            .collect()
    })
}

fn patch_email(b: &Bench, n: usize) -> Prepared<'_> {
    let tag = unique();
    on_fresh_organisations(b, n, INVITATIONS_PER_ORGANISATION, move |org, i| {
        ApiRequest::patch(org).json(json!({"billingEmail": format!("b{i}-{tag}@route.example")}))
    })
}

fn patch_vat(b: &Bench, n: usize) -> Prepared<'_> {
    // Two numbers in turn: every call changes the number, so every call asks VIES (the fake
    // answers at once, on loopback); 10 changes a day is an organisation's budget.
    let numbers = ["DE136695976", "NL004495445B01"];
    on_fresh_organisations(b, n, 10, move |org, i| {
        ApiRequest::patch(org).json(json!({"vatNumber": numbers[i % 2]}))
    })
}

fn delete_organisation(b: &Bench, n: usize) -> Prepared<'_> {
    Box::pin(async move {
        b.organisations(n)
            .await
            .into_iter()
            .map(|(_, _, identity)| {
                // DELETE names the organisation by its identity.
                Call::Api(
                    ApiRequest::delete(&format!("/api/v1/organisations/{identity}")).by(&b.admin),
                )
            })
            .collect()
    })
}

fn get_me(b: &Bench, n: usize) -> Prepared<'_> {
    ready(repeat(
        ApiRequest::get(&format!("{}/me", b.org())).by(&b.admin),
        n,
    ))
}

fn list_members(b: &Bench, n: usize) -> Prepared<'_> {
    ready(repeat(
        ApiRequest::get(&format!("{}/members", b.org())).by(&b.admin),
        n,
    ))
}

/// Organisations get their members 20 at a time: the standing one stays at its size, and no
/// organisation reaches its mail budget (200 a day) or keeps a record of hundreds of mails in
/// its profile, which every read and write of it would carry.
const INVITATIONS_PER_ORGANISATION: usize = 20;

fn add_member(b: &Bench, n: usize) -> Prepared<'_> {
    let tag = unique();
    on_fresh_organisations(b, n, INVITATIONS_PER_ORGANISATION, move |org, i| {
        ApiRequest::post(&format!("{org}/members"))
            .json(json!({"email": format!("m{i}-{tag}@route.example"), "role": "viewer"}))
    })
}

fn remove_member(b: &Bench, n: usize) -> Prepared<'_> {
    per_invitation(b, n, false, |i| {
        ApiRequest::delete(&format!(
            "/api/v1/organisations/{}/members/{}",
            i.slug, i.member
        ))
        .by(&b.admin)
    })
}

fn list_activity(b: &Bench, n: usize) -> Prepared<'_> {
    ready(repeat(
        ApiRequest::get(&format!("{}/activity", b.org())).by(&b.admin),
        n,
    ))
}

fn validation_status(b: &Bench, n: usize) -> Prepared<'_> {
    let path = format!("{}/validation-status", b.org());
    ready(repeat(ApiRequest::get(&path).by(&b.admin), n))
}

fn vat_legal_entity(b: &Bench, n: usize) -> Prepared<'_> {
    let path = format!("{}/validation-status/vat", b.org());
    ready(repeat(ApiRequest::get(&path).by(&b.admin), n))
}

fn confirm_legal_entity(b: &Bench, n: usize) -> Prepared<'_> {
    // The same confirmation again and again: after the first it changes nothing.
    let path = format!("{}/validation-status/vat", b.org());
    let body = json!({
        "vatLegalEntityName": api_tests::vies::DEFAULT_NAME,
        "vatLegalEntityAddress": api_tests::vies::DEFAULT_ADDRESS,
    });
    ready(repeat(ApiRequest::post(&path).by(&b.admin).json(body), n))
}

fn resend(b: &Bench, n: usize) -> Prepared<'_> {
    use shared::domain::budgets::SentMail;
    use shared::domain::verification::address_hash;
    use shared::domain::{Email, Slug};
    Box::pin(async move {
        let made = b.organisations(n).await;
        let mut calls = Vec::with_capacity(n);
        for (slug, contact, _) in made {
            // The creation's mail went 2 minutes ago: a resend is due (one a minute). The
            // organisation's profile records the mails it sent.
            let hash = address_hash(&Email::parse("e", &contact).expect("address"));
            let slug_value = Slug::parse(&slug).expect("slug");
            let mut organisation = b
                .env
                .store()
                .organisation(&slug_value)
                .await
                .expect("read")
                .expect("the organisation");
            organisation.mails_sent.0 = vec![SentMail {
                to: hash,
                at: chrono::Utc::now() - chrono::Duration::minutes(2),
            }];
            b.env
                .store()
                .seed(&organisation, &slug_value)
                .await
                .expect("seed the profile");
            calls.push(Call::Api(
                ApiRequest::post(&format!(
                    "/api/v1/organisations/{slug}/validation-status/email/resend"
                ))
                .by(&b.admin)
                .json(json!({"emailType": "CONTACT"})),
            ));
        }
        calls
    })
}

/// The verification links of `n` new organisations' contact addresses (made untimed).
async fn verification_links(b: &Bench, n: usize) -> Vec<String> {
    let made = b.organisations(n).await;
    let mails = b.env.mails();
    made.into_iter()
        .map(|(_, contact, _)| {
            let mail = mails
                .iter()
                .rev()
                .find(|m| m.to.contains(&contact))
                .expect("the creation mailed the contact address");
            format!("/api/v1/validations/verify-email/{}", mail.code())
        })
        .collect()
}

fn verify_email(b: &Bench, n: usize) -> Prepared<'_> {
    Box::pin(async move {
        let links = verification_links(b, n).await;
        links
            .iter()
            .map(|link| Call::Api(ApiRequest::get(link)))
            .collect()
    })
}

fn compute_information(b: &Bench, n: usize) -> Prepared<'_> {
    let path = format!("/api/v1/compute-information/organisation/{}", b.slug);
    ready(repeat(ApiRequest::get(&path).by(&b.admin), n))
}

fn quotas(b: &Bench, n: usize) -> Prepared<'_> {
    ready(repeat(
        ApiRequest::get(&format!("{}/quotas", b.org())).by(&b.admin),
        n,
    ))
}

fn operator_get(b: &Bench, n: usize) -> Prepared<'_> {
    let path = format!("/admin/v1/orgs/{}", b.identity);
    ready(repeat(ApiRequest::get(&path).by(&b.operator), n))
}

fn operator_patch(b: &Bench, n: usize) -> Prepared<'_> {
    let path = format!("/admin/v1/orgs/{}", b.identity);
    ready(
        (0..n)
            .map(|i| {
                Call::Api(
                    ApiRequest::patch(&path)
                        .by(&b.operator)
                        .json(json!({"quotaOverrides": {"clustersPerCustomer": 100 + i}})),
                )
            })
            .collect(),
    )
}

fn platform_events(b: &Bench, n: usize) -> Prepared<'_> {
    use shared::domain::platform::EventKind;
    let tag = unique();
    let calls = (0..n)
        .map(|i| {
            let bodies = (0..10).map(|k| {
                let at = format!("2026-11-28T08:{:02}:{:02}Z", k, i % 60);
                let detail = json!({"clusterId": format!("c-{tag}-{i}-{k}"), "cpuMillicores": 2000, "memoryMib": 4096});
                let mut body: Value = serde_json::from_str(&api_tests::platform::event(
                    EventKind::ClusterCreated,
                    &b.slug,
                    &at,
                    detail,
                ))
                .expect("an event");
                body["detail"]["organisationIdentity"] = json!(b.identity);
                body.to_string()
            });
            Call::PlatformEvents(bodies.collect())
        })
        .collect();
    ready(calls)
}

fn vat_revalidation(_: &Bench, n: usize) -> Prepared<'_> {
    ready((0..n).map(|_| Call::VatRun { due: 100 }).collect())
}

fn publish(b: &Bench, n: usize) -> Prepared<'_> {
    Box::pin(async move {
        let mut tap = api_tests::outbound::StreamTap::new(&b.env).await;
        // Everything the cases before wrote, unfiltered and unbatched.
        tap.records().await;
        for i in 0..100 {
            b.setup(
                ApiRequest::patch(&b.org())
                    .by(&b.admin)
                    .json(json!({"organisationName": format!("Published {i}")})),
            )
            .await;
        }
        let batch = tap.batch().await;
        assert_eq!(batch.records.len(), 100);
        (0..n).map(|_| Call::Publish(batch.clone())).collect()
    })
}

/// One timed call's figures.
struct Sample {
    wall: Duration,
    cpu: Duration,
    summary: delay_proxy::Summary,
    /// The critical path: operations in flight together joined by `+`, one after the other by `→`.
    path: String,
}

fn critical_path(requests: &[delay_proxy::Request]) -> String {
    let mut sorted: Vec<&delay_proxy::Request> = requests.iter().collect();
    sorted.sort_by_key(|r| r.start);
    let mut groups: Vec<(Instant, Vec<&str>)> = Vec::new();
    for r in sorted {
        match groups.last_mut() {
            Some((end, ops)) if r.start < *end => {
                *end = (*end).max(r.end);
                ops.push(&r.operation);
            }
            _ => groups.push((r.end, vec![&r.operation])),
        }
    }
    let steps: Vec<String> = groups
        .into_iter()
        .map(|(_, ops)| {
            let mut counted: Vec<(String, usize)> = Vec::new();
            for op in ops {
                match counted.iter_mut().find(|(o, _)| o == op) {
                    Some((_, n)) => *n += 1,
                    None => counted.push((op.to_owned(), 1)),
                }
            }
            counted
                .into_iter()
                .map(|(op, n)| if n == 1 { op } else { format!("{n}×{op}") })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect();
    // The same step n times in a row is written once: `n × (step)`.
    let mut runs: Vec<(String, usize)> = Vec::new();
    for step in steps {
        match runs.last_mut() {
            Some((last, n)) if *last == step => *n += 1,
            _ => runs.push((step, 1)),
        }
    }
    runs.into_iter()
        .map(|(step, n)| {
            if n == 1 {
                step
            } else {
                format!("{n} × ({step})")
            }
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

impl Bench {
    pub async fn new(vies: &FakeVies) -> Self {
        let mut env = TestEnv::new().await.with_vies(vies, Duration::from_secs(2));
        env.app.max_organisations_per_user_per_day = usize::MAX;
        let delay = delay_proxy::delay_from_env();
        let upstream = env.endpoint.trim_start_matches("http://").to_owned();
        let proxy = Proxy::start(0, &upstream, delay).expect("start the delay proxy");
        let mut app = env.app.clone();
        app.store =
            shared::storage::Store::new(api_tests::client(&proxy.url(), None, None), &env.table);
        let bridge = api_tests::outbound::eventbridge::FakeEventBridge::start().await;
        let bridge_proxy = Proxy::start(0, bridge.url.trim_start_matches("http://"), delay)
            .expect("start the EventBridge delay proxy");
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
                "local", "local", None, None, "bench",
            ))
            .endpoint_url(bridge_proxy.url())
            .build();
        let mut publisher = Publisher::new(
            shared::publisher::Sink::EventBridge {
                client: aws_sdk_eventbridge::Client::from_conf(config),
                bus: api_tests::outbound::eventbridge::TEST_BUS.to_owned(),
            },
            shared::publisher::DEFAULT_SOURCE,
        );
        publisher.retry_delay = bridge.publisher().retry_delay;
        let admin = TestUser::new("bench");
        let mut bench = Self {
            env,
            app,
            proxy,
            bridge_proxy,
            publisher,
            admin,
            operator: TestUser::operator("olga"),
            slug: String::new(),
            identity: String::new(),
        };
        let mut body = org_body("Bench Org", &format!("ops-{}@route.example", unique()));
        body["vatNumber"] = json!("NL004495445B01");
        let created = bench
            .setup(
                ApiRequest::post("/api/v1/organisations")
                    .by(&bench.admin)
                    .json(body),
            )
            .await;
        bench.slug = created.body["slug"]["slugValue"]
            .as_str()
            .expect("slug")
            .to_owned();
        bench.identity = created.body["identity"]
            .as_str()
            .expect("identity")
            .to_owned();
        for m in 1..10 {
            bench
                .setup(
                    ApiRequest::post(&format!("{}/members", bench.org()))
                        .by(&bench.admin)
                        .json(
                            json!({"email": format!("member{m}@route.example"), "role": "viewer"}),
                        ),
                )
                .await;
        }
        bench
    }

    async fn run(&self, call: Call) -> Sample {
        let mut due_now = false;
        let mut sqs = match &call {
            Call::PlatformEvents(bodies) => Some(api_tests::platform::batch(bodies.clone()).0),
            _ => None,
        };
        if let Call::VatRun { due } = &call {
            let now = chrono::Utc::now();
            api_tests::vies::seed_vat_schedule(
                &self.env,
                &format!("due-{}", unique()),
                &["NL004495445B01"],
                *due,
                |_| now - chrono::Duration::hours(1),
            )
            .await;
            due_now = true;
        }
        self.proxy.take();
        self.bridge_proxy.take();
        let proxy_cpu = self.proxy.cpu_time() + self.bridge_proxy.cpu_time();
        let cpu = delay_proxy::process_cpu_time();
        let started = Instant::now();
        match call {
            Call::Api(request) => {
                let reply = api_tests::send(&self.app, request).await;
                assert!(reply.status < 300, "{} {}", reply.status, reply.body);
            }
            Call::PlatformEvents(_) => {
                let batch = sqs.take().expect("made above");
                let failures = platform_events::handle(&self.app, batch).await;
                assert!(failures.batch_item_failures.is_empty());
            }
            Call::VatRun { due } => {
                assert!(due_now);
                let report = shared::vat_revalidation::run(
                    &self.app,
                    chrono::Utc::now(),
                    Instant::now() + Duration::from_secs(600),
                )
                .await
                .expect("run");
                assert_eq!(report.checked, due);
            }
            Call::RawGet => {
                let slug = shared::domain::Slug::parse(&self.slug).expect("slug");
                let key = shared::storage::keys::Key::profile(&slug);
                self.app.store.get(key).await.expect("GetItem");
            }
            Call::Publish(batch) => {
                let response = event_publisher::handle(&self.publisher, batch).await;
                assert!(response.batch_item_failures.is_empty());
            }
        }
        let wall = started.elapsed();
        let cpu = delay_proxy::process_cpu_time() - cpu;
        let proxy_cpu = self.proxy.cpu_time() + self.bridge_proxy.cpu_time() - proxy_cpu;
        let mut requests = self.proxy.take();
        requests.extend(self.bridge_proxy.take());
        Sample {
            wall,
            cpu: cpu.saturating_sub(proxy_cpu),
            summary: delay_proxy::summarise(&requests),
            path: critical_path(&requests),
        }
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}, load average {}", load())
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The memory size in template.yaml's Globals.
fn template_memory_mb() -> f64 {
    let text = std::fs::read_to_string(api_tests::dynamodb::repo_root().join("template.yaml"))
        .expect("template.yaml");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("MemorySize:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a MemorySize in template.yaml")
}

struct Cost {
    billed_ms: f64,
    gb_seconds: f64,
    per_million: f64,
}

/// Billed duration and cost per million calls at `memory_mb`: the wall time, with the CPU time
/// stretched by the share of a vCPU that memory size gets (an upper bound), rounded up to 1 ms.
fn cost(wall: Duration, cpu: Duration, units: (f64, f64), memory_mb: f64) -> Cost {
    let share = (memory_mb / prices::FULL_VCPU_MB).min(1.0);
    let duration = ms(wall) - ms(cpu) + ms(cpu) / share;
    let billed_ms = duration.ceil();
    let gb_seconds = memory_mb / 1024.0 * billed_ms / 1000.0;
    let per_call = gb_seconds * prices::LAMBDA_ARM_GB_SECOND
        + prices::LAMBDA_REQUEST
        + units.0 * prices::DYNAMODB_RRU
        + units.1 * prices::DYNAMODB_WRU;
    Cost {
        billed_ms,
        gb_seconds,
        per_million: per_call * 1e6,
    }
}

pub async fn section(filter: Option<&str>) {
    let vies = FakeVies::start().await;
    let bench = Bench::new(&vies).await;
    let delay = bench.proxy.delay;
    let memory = template_memory_mb();
    println!(
        "\n### Every route through the delay proxy (DDB_DELAY_MS = {}; release build)\n",
        ms(delay)
    );
    println!("Machine: {}", machine());
    println!(
        "\n| route | round trips | sequential | p50 | p99 | floor | p50 / floor | p50 - floor | calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut costs = Vec::new();
    let mut critical = Vec::new();
    for case in CASES {
        if filter.is_some_and(|f| !case.name.contains(f)) {
            continue;
        }
        let calls = (case.prepare)(&bench, WARM_UP + case.samples).await;
        let mut samples = Vec::with_capacity(case.samples);
        for (i, call) in calls.into_iter().enumerate() {
            let sample = bench.run(call).await;
            if i >= WARM_UP {
                samples.push(sample);
            }
        }
        let n = samples.len() as f64;
        // fold, not sum: an empty f64 sum is -0.0.
        let mean = |f: &dyn Fn(&Sample) -> f64| samples.iter().map(f).fold(0.0, |a, b| a + b) / n;
        let round_trips = mean(&|s| s.summary.round_trips as f64);
        let mut sequential: Vec<usize> = samples.iter().map(|s| s.summary.sequential).collect();
        sequential.sort();
        let sequential_p50 = sequential[sequential.len() / 2];
        let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        walls.sort();
        let mut cpus: Vec<Duration> = samples.iter().map(|s| s.cpu).collect();
        cpus.sort();
        let (p50, p99) = (percentile(&walls, 50), percentile(&walls, 99));
        let floor = delay * sequential_p50 as u32;
        let sequential_range = if sequential[0] == sequential[sequential.len() - 1] {
            format!("{sequential_p50}")
        } else {
            format!(
                "{sequential_p50} ({}–{})",
                sequential[0],
                sequential[sequential.len() - 1]
            )
        };
        println!(
            "| {} | {:.2} | {} | {:.2} ms | {:.2} ms | {:.0} ms | {:.2} | {:+.2} ms | {} |",
            case.name,
            round_trips,
            sequential_range,
            ms(p50),
            ms(p99),
            ms(floor),
            if floor.is_zero() {
                f64::NAN
            } else {
                ms(p50) / ms(floor)
            },
            ms(p50) - ms(floor),
            samples.len()
        );
        let units = (
            mean(&|s| s.summary.read_units),
            mean(&|s| s.summary.write_units),
        );
        let cpu = percentile(&cpus, 50);
        let mut paths: Vec<(&str, usize)> = Vec::new();
        for sample in &samples {
            match paths.iter_mut().find(|(p, _)| *p == sample.path) {
                Some((_, n)) => *n += 1,
                None => paths.push((&sample.path, 1)),
            }
        }
        paths.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let (path, count) = paths[0];
        critical.push(format!(
            "| {} | {path} | {count} of {} |",
            case.name,
            samples.len()
        ));
        costs.push((
            case.name,
            cpu,
            units,
            cost(p50, cpu, units, memory),
            cost(p50, cpu, units, 128.0),
        ));
    }
    println!("\nCritical path (the most frequent one; `+`: in flight together, `→`: one after the other)\n");
    println!("| route | DynamoDB (or EventBridge) requests | calls |\n|---|---|---|");
    for line in critical {
        println!("{line}");
    }
    println!(
        "\nCost per million calls (p50 wall time, CPU time p50; prices of {}: Lambda arm64 ${}/GB-s, ${:.2}/M requests; DynamoDB on-demand ${:.3}/M RRU, ${:.3}/M WRU)\n",
        prices::READ_ON,
        prices::LAMBDA_ARM_GB_SECOND,
        prices::LAMBDA_REQUEST * 1e6,
        prices::DYNAMODB_RRU * 1e6,
        prices::DYNAMODB_WRU * 1e6
    );
    println!(
        "| route | CPU ms | RRU | WRU | billed ms @{memory:.0} MB | GB-s @{memory:.0} MB | $/M @{memory:.0} MB | billed ms @128 MB | GB-s @128 MB | $/M @128 MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, cpu, units, at_template, at_128) in costs {
        println!(
            "| {name} | {:.3} | {:.2} | {:.2} | {:.0} | {:.6} | {:.2} | {:.0} | {:.6} | {:.2} |",
            ms(cpu),
            units.0,
            units.1,
            at_template.billed_ms,
            at_template.gb_seconds,
            at_template.per_million,
            at_128.billed_ms,
            at_128.gb_seconds,
            at_128.per_million
        );
    }
    println!("\nLoad average at the end: {}", load());
}
