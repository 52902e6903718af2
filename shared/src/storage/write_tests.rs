//! Unit tests of `Store::transaction`: the TransactWriteItems a change becomes, item by item
//! (operation, table, keys, `entity`, condition expression with its placeholders), and what a
//! failed condition of each item means. No DynamoDB: the client never connects.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::Duration;

use super::*;
use chrono::{DateTime, TimeZone, Utc};

use crate::domain::activity::{ActivityEvent, ActivityType, Actor};
use crate::domain::budgets::{AddressMailCounter, MAILS_PER_ADDRESS_PER_HOUR};
use crate::domain::change::{member_writes, LedgerUpdate, Write};
use crate::domain::ledger::{LedgerDelta, ResourceLedger, MAX_RESOURCE_RECORDS};
use crate::domain::member::{KubernetesRole, Member, Role};
use crate::domain::organisation::tests_support::organisation;
use crate::domain::organisation::Organisation;
use crate::domain::platform::{Resource, ResourceRecord, ResourceState};
use crate::domain::records::{CreationLog, DeletionRecord, IdentityLookup, Registration};
use crate::domain::verification::{EmailChallenge, EmailKind};
use crate::domain::{Email, Subject};

const TABLE: &str = "organisations-test";

/// A store whose client is configured but never sends anything.
fn store() -> Store {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .build();
    Store::new(aws_sdk_dynamodb::Client::from_conf(config), TABLE)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

fn event(at: DateTime<Utc>) -> ActivityEvent {
    ActivityEvent::new(
        ActivityType::OrganisationUpdated,
        Actor::system(),
        "m".into(),
        at,
    )
}

/// A member `<name>@example.com`; `joined`: bound to the subject `name`.
fn member(name: &str, role: Role, joined: bool) -> Member {
    Member {
        identity: uuid::Uuid::new_v4(),
        email: Some(Email::parse("email", &format!("{name}@example.com")).unwrap()),
        username: Some(name.to_owned()),
        role,
        kubernetes_role: KubernetesRole::None,
        subject: if joined { Subject::parse(name) } else { None },
        joined_at: now(),
        invitation: None,
    }
}

/// One transaction item, as text: `"put ORG#acme|PROFILE organisation"`, its condition with
/// its placeholders resolved as `#name=attribute` and `:value=N:1`.
#[derive(Debug, PartialEq)]
struct Item {
    head: String,
    condition: Option<String>,
    names: BTreeMap<String, String>,
    values: BTreeMap<String, String>,
}

fn text(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(s) => format!("S:{s}"),
        AttributeValue::N(n) => format!("N:{n}"),
        other => format!("{other:?}"),
    }
}

fn key_of(item: &HashMap<String, AttributeValue>) -> String {
    let key = keys::Key::of(item).expect("pk and sk");
    format!("{}|{}", key.pk, key.sk)
}

fn values(map: Option<&HashMap<String, AttributeValue>>) -> BTreeMap<String, String> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect()
}

fn names(map: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn entity(item: &HashMap<String, AttributeValue>) -> String {
    super::super::entities::entity_type(item)
        .unwrap_or("-")
        .to_owned()
}

fn describe(item: &TransactWriteItem) -> Item {
    if let Some(put) = item.put() {
        assert_eq!(put.table_name(), TABLE);
        return Item {
            head: format!("put {} {}", key_of(put.item()), entity(put.item())),
            condition: put.condition_expression().map(str::to_owned),
            names: names(put.expression_attribute_names()),
            values: values(put.expression_attribute_values()),
        };
    }
    if let Some(delete) = item.delete() {
        assert_eq!(delete.table_name(), TABLE);
        return Item {
            head: format!("delete {}", key_of(delete.key())),
            condition: delete.condition_expression().map(str::to_owned),
            names: names(delete.expression_attribute_names()),
            values: values(delete.expression_attribute_values()),
        };
    }
    if let Some(check) = item.condition_check() {
        assert_eq!(check.table_name(), TABLE);
        return Item {
            head: format!("check {}", key_of(check.key())),
            condition: Some(check.condition_expression().to_owned()),
            names: names(check.expression_attribute_names()),
            values: values(check.expression_attribute_values()),
        };
    }
    let update = item.update().expect("put, delete, check or update");
    assert_eq!(update.table_name(), TABLE);
    Item {
        head: format!("update {}", key_of(update.key())),
        condition: update.condition_expression().map(str::to_owned),
        names: names(update.expression_attribute_names()),
        values: values(update.expression_attribute_values()),
    }
}

fn map<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn item(
    head: &str,
    condition: Option<&str>,
    names: BTreeMap<String, String>,
    values: BTreeMap<String, String>,
) -> Item {
    Item {
        head: head.to_owned(),
        condition: condition.map(str::to_owned),
        names,
        values,
    }
}

/// Absent: `attribute_not_exists(#pk)`.
fn absent(head: &str) -> Item {
    item(
        head,
        Some("attribute_not_exists(#pk)"),
        map([("#pk", "pk")]),
        map([]),
    )
}

fn unconditional(head: &str) -> Item {
    item(head, None, map([]), map([]))
}

fn as_read(head: &str, revision: u64, writes: u64) -> Item {
    let writes_condition = if writes == 0 {
        "(attribute_not_exists(#writes) OR #writes = :writes)"
    } else {
        "#writes = :writes"
    };
    item(
        head,
        Some(&format!("#revision = :revision AND {writes_condition}")),
        map([("#revision", "revision"), ("#writes", "profile_writes")]),
        map([
            (":revision", &format!("N:{revision}")),
            (":writes", &format!("N:{writes}")),
        ]),
    )
}

fn transaction(change: &Change) -> (Vec<TransactWriteItem>, Vec<IfNot>) {
    store().transaction(change).expect("a valid change")
}

#[track_caller]
fn assert_items(case: &str, change: &Change, expected: Vec<Item>, meanings: Vec<IfNot>) {
    let (items, actual_meanings) = transaction(change);
    let actual: Vec<Item> = items.iter().map(describe).collect();
    assert_eq!(
        actual.len(),
        expected.len(),
        "{case}: items {:#?}",
        actual.iter().map(|i| &i.head).collect::<Vec<_>>()
    );
    for (index, (actual, expected)) in actual.iter().zip(&expected).enumerate() {
        assert_eq!(actual, expected, "{case}: item {index}");
    }
    assert_eq!(
        actual_meanings, meanings,
        "{case}: what failed conditions mean"
    );
}

fn attribute<'a>(item: &'a TransactWriteItem, name: &str) -> &'a AttributeValue {
    item.put()
        .and_then(|p| p.item().get(name))
        .unwrap_or_else(|| panic!("no {name}"))
}

use crate::domain::change::Refusal::*;
const RETRY: IfNot = IfNot::Retry;

#[test]
fn a_create_reserves_the_slug_and_inserts_every_record() {
    let mut organisation = organisation();
    organisation.identity = uuid::Uuid::from_u128(1);
    let slug = organisation.slug.clone();
    let admin = member("alice", Role::Admin, true);
    let challenge = EmailChallenge::new(
        &slug,
        EmailKind::Contact,
        &organisation.contact_email,
        now(),
    );
    let alice = Subject::parse("alice").unwrap();
    let change = Change {
        slug: slug.clone(),
        profile: Profile::Create(organisation.clone()),
        activity: Some(event(now())),
        writes: vec![Write::insert(Record::OrganisationIdentity(
            IdentityLookup {
                identity: organisation.identity,
                slug: slug.clone(),
            },
        ))],
        ledger: None,
    }
    .with_all(member_writes(&admin))
    .with(Write::insert(Record::EmailCode(challenge.record.clone())))
    .with(Write::put(
        Record::CreationLog(CreationLog {
            subject: alice.clone(),
            created_at: vec![now()],
            version: 1,
        }),
        Expect::Version(None),
    ))
    .with(
        Write::insert(Record::Registration(Registration {
            subject: alice,
            slug,
        }))
        .or_refuse(AlreadyRegistered),
    );
    let code = &challenge.record.code_hash;
    assert_items(
        "create",
        &change,
        vec![
            absent("put ORG#acme|PROFILE organisation"),
            absent("check ORG#acme|PURGE"),
            absent("put ORG#acme|ACTIVITY#000000000001 activity"),
            absent(&format!(
                "put ORGID#{}|ORGID organisation_identity",
                organisation.identity
            )),
            absent(&format!("put ORG#acme|MEMBER#{} member", admin.identity)),
            unconditional("put ORG#acme|MEMBERSUB#alice member_by_subject"),
            absent("put ORG#acme|MEMBEREMAIL#alice@example.com member_by_email"),
            absent(&format!("put EMAILCODE#{code}|EMAILCODE email_code")),
            absent("put USER#alice|CREATIONS creation_log"),
            absent("put USER#alice|REGISTRATION registration"),
        ],
        vec![
            IfNot::Refuse(SlugTaken),
            IfNot::Refuse(SlugTaken),
            RETRY,
            RETRY,
            RETRY,
            RETRY,
            IfNot::Refuse(MemberEmailTaken),
            RETRY,
            RETRY,
            IfNot::Refuse(AlreadyRegistered),
        ],
    );
    let (items, _) = transaction(&change);
    assert_eq!(
        text(attribute(&items[0], "revision")),
        "N:1",
        "the profile starts at its revision"
    );
    assert_eq!(
        text(attribute(&items[0], "profile_writes")),
        "N:0",
        "a create is not a rewrite of a read profile"
    );
}

#[test]
fn an_update_is_guarded_by_the_revision_and_writes_its_event_under_the_next() {
    struct Case {
        name: &'static str,
        profile_writes: u64,
    }
    for case in [
        Case {
            name: "a profile never rewritten (or stored before the count)",
            profile_writes: 0,
        },
        Case {
            name: "a profile rewritten twice at this revision",
            profile_writes: 2,
        },
    ] {
        let mut before = organisation();
        before.revision = 4;
        before.profile_writes = case.profile_writes;
        let mut after = before.clone();
        after.admin_count = 2;
        let bob = member("bob", Role::Admin, true);
        let change = Change::update(&before, after, event(now())).with_all(member_writes(&bob));
        assert_items(
            case.name,
            &change,
            vec![
                as_read("put ORG#acme|PROFILE organisation", 4, case.profile_writes),
                absent("put ORG#acme|ACTIVITY#000000000005 activity"),
                absent(&format!("put ORG#acme|MEMBER#{} member", bob.identity)),
                unconditional("put ORG#acme|MEMBERSUB#bob member_by_subject"),
                absent("put ORG#acme|MEMBEREMAIL#bob@example.com member_by_email"),
            ],
            vec![RETRY, RETRY, RETRY, RETRY, IfNot::Refuse(MemberEmailTaken)],
        );
        let (items, _) = transaction(&change);
        assert_eq!(
            text(attribute(&items[0], "revision")),
            "N:5",
            "{}: written at the next revision",
            case.name
        );
        assert_eq!(
            text(attribute(&items[0], "admin_count")),
            "N:2",
            "{}: as decided",
            case.name
        );
        assert_eq!(
            text(attribute(&items[0], "profile_writes")),
            format!("N:{}", case.profile_writes + 1),
            "{}: the write is counted",
            case.name
        );
    }
}

#[test]
fn a_delete_is_guarded_by_revision_and_ledger_and_marks_the_partition() {
    let mut organisation = organisation();
    organisation.revision = 7;
    let identity = organisation.identity;
    let record = DeletionRecord {
        identity,
        slug: organisation.slug.clone(),
        name: "Acme".into(),
        deleted_by: "alice".into(),
        deleted_at: now(),
        expires_at: 0,
        outbound: None,
    };
    let change = Change {
        slug: organisation.slug,
        profile: Profile::Delete { read_revision: 7 },
        activity: None,
        writes: vec![
            Write::check(RecordKey::Ledger, Expect::LedgerClear),
            Write::remove(RecordKey::OrganisationIdentity(identity), Expect::Anything),
            Write::put(Record::PurgeMarker { deleted_at: now() }, Expect::Anything),
            Write::put(Record::Deletion(record), Expect::Anything),
            Write::remove(RecordKey::EmailCode("c0de".into()), Expect::Anything),
        ],
        ledger: None,
    };
    assert_items(
        "delete",
        &change,
        vec![
            item("delete ORG#acme|PROFILE", Some("#revision = :revision"), map([("#revision", "revision")]), map([(":revision", "N:7")])),
            item(
                "check ORG#acme|LEDGER",
                Some("attribute_not_exists(#pk) OR (#clusters = :zero AND #accounts = :zero AND #tenants = :zero)"),
                map([("#pk", "pk"), ("#clusters", "active_clusters"), ("#accounts", "cloud_accounts"), ("#tenants", "monitoring_tenants")]),
                map([(":zero", "N:0")]),
            ),
            unconditional(&format!("delete ORGID#{identity}|ORGID")),
            unconditional("put ORG#acme|PURGE purge"),
            unconditional(&format!("put DELETED#{identity}|DELETED deletion")),
            unconditional("delete EMAILCODE#c0de|EMAILCODE"),
        ],
        vec![RETRY; 6],
    );
    let (items, _) = transaction(&change);
    assert_eq!(
        text(attribute(&items[3], "gsi1pk")),
        "S:PURGE",
        "the sweeper finds the marker in gsi1"
    );
    assert_eq!(
        text(attribute(&items[3], "gsi1sk")),
        "S:2026-12-01T12:00:00.000Z"
    );
}

#[test]
fn a_code_is_used_once() {
    let before = organisation();
    let challenge = EmailChallenge::new(
        &before.slug,
        EmailKind::Contact,
        &before.contact_email,
        now(),
    );
    let mut after = before.clone();
    after.verification.contact_email_verified_at = Some(now());
    let used = crate::domain::verification::EmailCode {
        used_at: Some(now()),
        ..challenge.record.clone()
    };
    let change = Change::update(&before, after, event(now()))
        .with(Write::put(Record::EmailCode(used), Expect::Unused).or_refuse(CodeUsed));
    let hash = &challenge.record.code_hash;
    assert_items(
        "verify",
        &change,
        vec![
            as_read("put ORG#acme|PROFILE organisation", 1, 0),
            absent("put ORG#acme|ACTIVITY#000000000002 activity"),
            item(
                &format!("put EMAILCODE#{hash}|EMAILCODE email_code"),
                Some("attribute_exists(#pk) AND attribute_not_exists(#used_at)"),
                map([("#pk", "pk"), ("#used_at", "used_at")]),
                map([]),
            ),
        ],
        vec![RETRY, RETRY, IfNot::Refuse(CodeUsed)],
    );
}

/// The `ADD` of one mail to an address's counter of a clock hour.
const MAIL_COUNT_ADD: &str = "ADD #sent :one SET #entity = :entity, #expires = :expires";

#[test]
fn a_mail_is_counted_on_the_address_counter_of_its_clock_hour_below_the_cap() {
    // 2026-12-01T12:00:00Z is hour 498,924 since the epoch; the counter expires two hours on.
    let counter = AddressMailCounter::new("abc", now());
    assert_eq!(counter.hour, 498_924);
    let count = || {
        item(
            "update MAILTO#abc|HOUR#498924",
            Some("attribute_not_exists(#sent) OR #sent < :cap"),
            map([
                ("#entity", "entity"),
                ("#expires", "expires_at"),
                ("#sent", "sent"),
            ]),
            map([
                (":one", "N:1"),
                (":entity", "S:address_mail_counter"),
                (":expires", "N:1796133600"),
                (":cap", &format!("N:{MAILS_PER_ADDRESS_PER_HOUR}")),
            ]),
        )
    };
    let before = organisation();
    let challenge = EmailChallenge::new(
        &before.slug,
        EmailKind::Contact,
        &before.contact_email,
        now(),
    );
    let mut after = before.clone();
    after.verification.issued(&challenge);
    let code = &challenge.record.code_hash;
    struct Case {
        name: &'static str,
        change: Change,
        expected: Vec<Item>,
        meanings: Vec<IfNot>,
    }
    let cases = [
        Case {
            name: "a count alone touches no organisation",
            change: Change {
                slug: Slug::parse("acme").unwrap(),
                profile: Profile::Untouched,
                activity: None,
                writes: vec![Write::count_mail(counter.clone())],
                ledger: None,
            },
            expected: vec![count()],
            meanings: vec![IfNot::Refuse(AddressMailCap)],
        },
        Case {
            name: "a resend: the profile as read, the new code, the count",
            change: Change::rewrite(&before, after)
                .with(Write::insert(Record::EmailCode(challenge.record.clone())))
                .with(Write::count_mail(counter)),
            expected: vec![
                as_read("put ORG#acme|PROFILE organisation", 1, 0),
                absent(&format!("put EMAILCODE#{code}|EMAILCODE email_code")),
                count(),
            ],
            meanings: vec![RETRY, RETRY, IfNot::Refuse(AddressMailCap)],
        },
    ];
    for case in cases {
        assert_items(case.name, &case.change, case.expected, case.meanings);
        let (items, _) = transaction(&case.change);
        let update = items
            .last()
            .and_then(TransactWriteItem::update)
            .expect("the count is an update");
        assert_eq!(update.update_expression(), MAIL_COUNT_ADD, "{}", case.name);
    }
}

const LEDGER_ADD: &str = "ADD #clusters :clusters, #accounts :accounts, #tenants :tenants, #cpu :cpu, #memory :memory, #records :records SET #entity = :entity";

fn ledger_names(payments: bool) -> BTreeMap<String, String> {
    let mut names = map([
        ("#clusters", "active_clusters"),
        ("#accounts", "cloud_accounts"),
        ("#tenants", "monitoring_tenants"),
        ("#cpu", "total_cpu_millicores"),
        ("#memory", "total_memory_mib"),
        ("#records", "resource_records"),
        ("#entity", "entity"),
    ]);
    if payments {
        names.extend(map([
            ("#methods", "payment_methods"),
            ("#payment_version", "payment_version"),
            ("#attached_at", "payment_method_attached_at"),
        ]));
    }
    names
}

fn resource(resource: Resource, state: ResourceState, version: u64) -> Record {
    Record::Resource(
        resource,
        ResourceRecord {
            state,
            occurred_at: now(),
            event_rank: 0,
            version,
        },
    )
}

#[test]
fn ledger_updates_add_deltas_under_their_conditions() {
    let before: Organisation = organisation();
    // A resize of a known cluster: no activity (the profile must exist), the record on its
    // version, the ledger's totals added to without a condition.
    let mut resize = Change::update_or_keep(&before, before.clone(), None).with(Write::put(
        resource(
            Resource::Cluster("c-1".into()),
            ResourceState::ClusterActive {
                cpu_millicores: 3000,
                memory_mib: 2048,
            },
            5,
        ),
        Expect::Version(Some(4)),
    ));
    resize.ledger = Some(LedgerUpdate {
        delta: LedgerDelta {
            total_cpu_millicores: 2000,
            total_memory_mib: 1024,
            ..LedgerDelta::default()
        },
        payments: None,
        records_below: None,
    });
    let (items, meanings) = transaction(&resize);
    let described: Vec<Item> = items.iter().map(describe).collect();
    assert_eq!(
        described[0],
        item(
            "check ORG#acme|PROFILE",
            Some("attribute_exists(#pk)"),
            map([("#pk", "pk")]),
            map([])
        ),
        "the profile exists"
    );
    assert_eq!(
        described[1],
        item(
            "put ORG#acme|CLUSTER#c-1 resource",
            Some("#version = :version"),
            map([("#version", "version")]),
            map([(":version", "N:4")])
        )
    );
    assert_eq!(
        described[2],
        item(
            "update ORG#acme|LEDGER",
            None,
            ledger_names(false),
            map([
                (":clusters", "N:0"),
                (":accounts", "N:0"),
                (":tenants", "N:0"),
                (":cpu", "N:2000"),
                (":memory", "N:1024"),
                (":records", "N:0"),
                (":entity", "S:ledger")
            ]),
        )
    );
    assert_eq!(items[2].update().unwrap().update_expression(), LEDGER_ADD);
    assert_eq!(meanings, [RETRY; 3]);

    // A first payment method: a new record (bounded), the payment methods written on
    // condition that none were stored.
    let mut attach = Change::update(&before, before.clone(), event(now())).with(Write::put(
        resource(
            Resource::PaymentMethod("pm-1".into()),
            ResourceState::PaymentMethodAttached { attached_at: now() },
            1,
        ),
        Expect::Version(None),
    ));
    attach.ledger = Some(LedgerUpdate {
        delta: LedgerDelta {
            resource_records: 1,
            ..LedgerDelta::default()
        },
        payments: Some(ResourceLedger::default().with_payment_method("pm-1", Some(now()))),
        records_below: Some(MAX_RESOURCE_RECORDS),
    });
    let (items, meanings) = transaction(&attach);
    assert_eq!(
        describe(&items[0]).head,
        "put ORG#acme|PROFILE organisation",
        "members see it: the next revision"
    );
    assert_eq!(
        describe(&items[1]),
        absent("put ORG#acme|ACTIVITY#000000000002 activity")
    );
    assert_eq!(
        describe(&items[2]),
        absent("put ORG#acme|PAYMENT#pm-1 resource")
    );
    let ledger = describe(&items[3]);
    assert_eq!(ledger.head, "update ORG#acme|LEDGER");
    assert_eq!(
        ledger.condition.as_deref(),
        Some("attribute_not_exists(#payment_version) AND (attribute_not_exists(#records) OR #records < :max_records)")
    );
    assert_eq!(ledger.names, ledger_names(true));
    for (placeholder, value) in [
        (":records", "N:1"),
        (":max_records", "N:5000"),
        (":payment_version", "N:1"),
        (":attached_at", "S:2026-12-01T12:00:00Z"),
    ] {
        assert_eq!(
            ledger.values.get(placeholder).map(String::as_str),
            Some(value),
            "{placeholder}"
        );
    }
    assert_eq!(
        items[3].update().unwrap().update_expression(),
        format!("{LEDGER_ADD}, #methods = :methods, #payment_version = :payment_version, #attached_at = :attached_at")
    );
    assert_eq!(meanings, [RETRY; 4]);

    // The last one detached: the version read is the condition, the earliest time removed.
    let mut read =
        ResourceLedger::default().with_payment_method("pm-1", Some(now() - Duration::days(1)));
    read.payment_version = 6;
    let mut detach = Change::update(&before, before.clone(), event(now())).with(Write::put(
        resource(
            Resource::PaymentMethod("pm-1".into()),
            ResourceState::PaymentMethodDetached,
            2,
        ),
        Expect::Version(Some(1)),
    ));
    detach.ledger = Some(LedgerUpdate {
        delta: LedgerDelta::default(),
        payments: Some(read.with_payment_method("pm-1", None)),
        records_below: None,
    });
    let (items, _) = transaction(&detach);
    let update = items.last().unwrap().update().unwrap();
    assert_eq!(
        update.condition_expression(),
        Some("#payment_version = :read_payment_version")
    );
    assert_eq!(
        values(update.expression_attribute_values())
            .get(":read_payment_version")
            .map(String::as_str),
        Some("N:6")
    );
    assert_eq!(
        values(update.expression_attribute_values())
            .get(":payment_version")
            .map(String::as_str),
        Some("N:7")
    );
    assert!(
        update
            .update_expression()
            .ends_with("#payment_version = :payment_version REMOVE #attached_at"),
        "{}",
        update.update_expression()
    );
}

#[test]
fn changes_that_cannot_be_written_are_refused_before_any_request() {
    let before = organisation();
    let event = ActivityEvent::new(
        ActivityType::OrganisationUpdated,
        Actor::system(),
        "m".into(),
        now(),
    );
    struct Case {
        name: &'static str,
        change: Change,
    }
    let cases = [
        Case {
            name: "an activity event without a new revision",
            change: Change {
                activity: Some(event),
                ..Change::update_or_keep(&before, before.clone(), None)
            },
        },
        Case {
            name: "a check without an expectation",
            change: Change::update_or_keep(&before, before.clone(), None)
                .with(Write::check(RecordKey::Ledger, Expect::Anything)),
        },
    ];
    for case in cases {
        match store().transaction(&case.change) {
            Err(StoreError::InvalidChange(_)) => {}
            other => panic!(
                "{}: expected an invalid change, got {:?}",
                case.name,
                other.map(|(items, _)| items.len())
            ),
        }
    }
}

#[test]
fn the_refusal_a_caller_hears_first() {
    // Registering twice explains a taken slug; a taken slug explains a taken e-mail lookup; a
    // repeated request explains everything.
    // A full mail counter is heard only when nothing else failed: the change is then decided
    // again without the mail.
    let mut order = [
        AddressMailCap,
        MemberEmailTaken,
        CodeUsed,
        SlugTaken,
        IdempotencyKeyUsed,
        AlreadyRegistered,
    ];
    order.sort_by_key(|r| std::cmp::Reverse(precedence(*r)));
    assert_eq!(
        order[..3],
        [IdempotencyKeyUsed, AlreadyRegistered, SlugTaken]
    );
    assert_eq!(order.last(), Some(&AddressMailCap));
    assert!(precedence(AddressMailCap) < precedence(CodeUsed));
    assert_eq!(precedence(MemberEmailTaken), precedence(CodeUsed));
}
