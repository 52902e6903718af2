//! Table tests of the organisation decisions: the type rules a customer is held to, the
//! creation and mail limits, create, PATCH and delete.

use chrono::Duration;

use super::*;
use crate::domain::activity::DetailType;
use crate::domain::budgets::{AddressMailCounter, SentMail};
use crate::domain::change::IfNot;
use crate::domain::decisions::fixtures::{
    access, access_to, assert_rejected, caller, counter, counters, email, limits, mails_sent, now,
    puts, shapes, updated,
};
use crate::domain::organisation::tests_support::organisation;
use crate::domain::organisation::OrganisationName;
use crate::domain::verification::address_hash;
use crate::domain::verification::VatStatus;
use crate::domain::Subject;

use crate::domain::organisation::OrganisationType::{Business, Enterprise, Individual, Trial};

#[test]
fn customers_may_choose_every_type_but_enterprise() {
    struct Case {
        kind: OrganisationType,
        allowed: bool,
    }
    let cases = [
        Case {
            kind: Business,
            allowed: true,
        },
        Case {
            kind: Individual,
            allowed: true,
        },
        Case {
            kind: Trial,
            allowed: true,
        },
        Case {
            kind: Enterprise,
            allowed: false,
        },
    ];
    for case in cases {
        let name = format!("{:?}", case.kind);
        let result = customer_may_choose(case.kind);
        if case.allowed {
            assert_eq!(result, Ok(()), "{name}");
        } else {
            assert_rejected(&name, &result, "forbidden", "ENTERPRISE");
        }
    }
}

#[test]
fn customers_change_type_only_along_the_allowed_paths() {
    struct Case {
        name: &'static str,
        from: OrganisationType,
        to: OrganisationType,
        payment: bool,
        /// `None`: allowed; else the rejection's kind and gist.
        refused: Option<(&'static str, &'static str)>,
    }
    let cases = [
        Case {
            name: "staying TRIAL",
            from: Trial,
            to: Trial,
            payment: false,
            refused: None,
        },
        Case {
            name: "staying ENTERPRISE",
            from: Enterprise,
            to: Enterprise,
            payment: false,
            refused: None,
        },
        Case {
            name: "TRIAL to BUSINESS with a payment method",
            from: Trial,
            to: Business,
            payment: true,
            refused: None,
        },
        Case {
            name: "TRIAL to INDIVIDUAL with a payment method",
            from: Trial,
            to: Individual,
            payment: true,
            refused: None,
        },
        Case {
            name: "TRIAL to BUSINESS without a payment method",
            from: Trial,
            to: Business,
            payment: false,
            refused: Some(("invalid", "leaving TRIAL needs a valid payment method")),
        },
        Case {
            name: "TRIAL to INDIVIDUAL without a payment method",
            from: Trial,
            to: Individual,
            payment: false,
            refused: Some(("invalid", "organisationType: leaving TRIAL")),
        },
        Case {
            name: "BUSINESS to INDIVIDUAL needs no payment method",
            from: Business,
            to: Individual,
            payment: false,
            refused: None,
        },
        Case {
            name: "INDIVIDUAL to BUSINESS",
            from: Individual,
            to: Business,
            payment: false,
            refused: None,
        },
        Case {
            name: "back to TRIAL",
            from: Business,
            to: Trial,
            payment: true,
            refused: Some(("invalid", "cannot become TRIAL again")),
        },
        Case {
            name: "to ENTERPRISE",
            from: Business,
            to: Enterprise,
            payment: true,
            refused: Some(("forbidden", "Only platform operators")),
        },
        Case {
            name: "TRIAL to ENTERPRISE",
            from: Trial,
            to: Enterprise,
            payment: true,
            refused: Some(("forbidden", "ENTERPRISE")),
        },
        Case {
            name: "out of ENTERPRISE",
            from: Enterprise,
            to: Business,
            payment: true,
            refused: Some(("forbidden", "ENTERPRISE")),
        },
    ];
    for case in cases {
        let result = customer_may_change_type(case.from, case.to, case.payment);
        match case.refused {
            None => assert_eq!(result, Ok(()), "{}", case.name),
            Some((kind, says)) => assert_rejected(case.name, &result, kind, says),
        }
    }
}

fn creation_log(ages: &[Duration], version: u64) -> CreationLog {
    CreationLog {
        subject: Subject::parse("alice").unwrap(),
        created_at: ages.iter().map(|age| now() - *age).collect(),
        version,
    }
}

#[test]
fn creations_are_limited_per_user_per_sliding_day() {
    struct Case {
        name: &'static str,
        ages: Vec<Duration>,
        version: u64,
        limit: usize,
        /// Ok: the creation times kept after this one; Err: the seconds to wait.
        expected: Result<usize, u64>,
    }
    let hours = |n: i64| Duration::hours(n);
    let cases = [
        Case {
            name: "a first creation",
            ages: vec![],
            version: 0,
            limit: 10,
            expected: Ok(1),
        },
        Case {
            name: "one below the limit",
            ages: (1..=9).map(hours).collect(),
            version: 4,
            limit: 10,
            expected: Ok(10),
        },
        Case {
            name: "exactly at the limit: wait until the oldest is a day old",
            ages: (1..=10).map(hours).collect(),
            version: 4,
            limit: 10,
            expected: Err(14 * 3600),
        },
        Case {
            name: "the oldest exactly 24 hours ago no longer counts",
            ages: std::iter::once(hours(24))
                .chain((1..=9).map(hours))
                .collect(),
            version: 7,
            limit: 10,
            expected: Ok(10),
        },
        Case {
            name: "older creations are dropped",
            ages: vec![hours(25), hours(48)],
            version: 2,
            limit: 10,
            expected: Ok(1),
        },
        Case {
            name: "a limit of one",
            ages: vec![hours(1)],
            version: 1,
            limit: 1,
            expected: Err(23 * 3600),
        },
    ];
    for case in cases {
        let log = creation_log(&case.ages, case.version);
        let result = count_creation(&log, case.limit, now());
        match (case.expected, result) {
            (Ok(kept), Ok(write)) => {
                let read = (case.version > 0).then_some(case.version);
                assert_eq!(
                    write.expect,
                    Expect::Version(read),
                    "{}: guarded by the version read",
                    case.name
                );
                let crate::domain::change::Operation::Put(record) = &write.operation else {
                    panic!("{}: a put", case.name)
                };
                let Record::CreationLog(next) = record.as_ref() else {
                    panic!("{}: the creation log", case.name)
                };
                assert_eq!(next.version, case.version + 1, "{}", case.name);
                assert_eq!(next.created_at.len(), kept, "{}", case.name);
                assert_eq!(
                    next.created_at.last(),
                    Some(&now()),
                    "{}: this creation counted",
                    case.name
                );
                assert!(
                    next.created_at.iter().all(|t| *t > now() - hours(24)),
                    "{}",
                    case.name
                );
            }
            (
                Err(wait),
                Err(Rejection::TooMany {
                    message,
                    retry_after_seconds,
                }),
            ) => {
                assert_eq!(retry_after_seconds, wait, "{}", case.name);
                assert!(
                    message.contains(&format!("created {} organisations", case.limit)),
                    "{}: {message}",
                    case.name
                );
            }
            (expected, actual) => panic!("{}: expected {expected:?}, got {actual:?}", case.name),
        }
    }
}

#[test]
fn mails_are_held_to_the_daily_budget_and_the_hourly_share_of_an_address() {
    enum Expected {
        /// Sent: counted on the address's counter, with this many mails in the profile after.
        Send(usize),
        /// Not sent, and not recorded.
        Suppress,
        /// 429 with the seconds to wait.
        TooMany(u64),
    }
    struct Case {
        name: &'static str,
        /// Mails the organisation sent: to whom, how long ago.
        sent: Vec<(&'static str, Duration)>,
        /// The organisation's daily mail budget.
        budget: usize,
        address_capped: bool,
        expected: Expected,
    }
    const TO: &str = "ops@acme.example";
    const OTHER: &str = "someone@acme.example";
    let minutes = |m: i64| Duration::minutes(m);
    let hours = |h: i64| Duration::hours(h);
    let base = || Case {
        name: "",
        sent: vec![],
        budget: 10,
        address_capped: false,
        expected: Expected::Send(1),
    };
    let cases = [
        Case {
            name: "a first mail",
            ..base()
        },
        Case {
            name: "one below the daily budget",
            sent: (1..=9).map(|h| (OTHER, hours(h))).collect(),
            expected: Expected::Send(10),
            ..base()
        },
        Case {
            name: "the daily budget spent: wait until the oldest is a day old",
            sent: (1..=10).map(|h| (OTHER, hours(h))).collect(),
            expected: Expected::TooMany(14 * 3600),
            ..base()
        },
        Case {
            name: "the oldest exactly 24 hours ago no longer counts, and is forgotten",
            sent: std::iter::once((OTHER, hours(24)))
                .chain((1..=9).map(|h| (OTHER, hours(h))))
                .collect(),
            expected: Expected::Send(10),
            ..base()
        },
        Case {
            name: "the budget comes before the address's share",
            sent: (1..=5).map(|m| (TO, minutes(m))).collect(),
            budget: 5,
            expected: Expected::TooMany(24 * 3600 - 5 * 60),
            ..base()
        },
        Case {
            name: "four mails to the address in the hour",
            sent: vec![
                (TO, minutes(5)),
                (TO, minutes(10)),
                (TO, minutes(20)),
                (TO, minutes(50)),
            ],
            expected: Expected::Send(5),
            ..base()
        },
        Case {
            name: "five mails to the address in the hour",
            sent: vec![
                (TO, minutes(5)),
                (TO, minutes(10)),
                (TO, minutes(20)),
                (TO, minutes(30)),
                (TO, minutes(59)),
            ],
            expected: Expected::Suppress,
            ..base()
        },
        Case {
            name: "the oldest to the address exactly an hour ago no longer counts",
            sent: vec![
                (TO, minutes(5)),
                (TO, minutes(10)),
                (TO, minutes(20)),
                (TO, minutes(30)),
                (TO, minutes(60)),
            ],
            expected: Expected::Send(6),
            ..base()
        },
        Case {
            name: "mails to other addresses are not the address's share",
            sent: (1..=5).map(|m| (OTHER, minutes(m))).collect(),
            expected: Expected::Send(6),
            ..base()
        },
        Case {
            name: "the address had its share from all organisations",
            address_capped: true,
            expected: Expected::Suppress,
            ..base()
        },
        Case {
            name: "a full counter does not lift the daily budget",
            sent: (1..=10).map(|h| (OTHER, hours(h))).collect(),
            address_capped: true,
            expected: Expected::TooMany(14 * 3600),
            ..base()
        },
    ];
    for case in cases {
        let name = case.name;
        let mut organisation = organisation();
        organisation.mails_sent = mails_sent(&case.sent);
        let before = organisation.mails_sent.clone();
        let limits = limits(case.budget, 10, case.address_capped);
        let result = count_mail(&mut organisation, &email(TO), limits, now());
        match (case.expected, result) {
            (Expected::Send(kept), Ok(MailCount::Send(write))) => {
                assert_eq!(
                    write,
                    Write::count_mail(counter(TO)),
                    "{name}: the address's counter of this hour"
                );
                assert_eq!(
                    write.if_not,
                    IfNot::Refuse(Refusal::AddressMailCap),
                    "{name}: a full counter refuses the mail"
                );
                assert_eq!(
                    counter(TO).hour,
                    now().timestamp() / 3600,
                    "{name}: the clock hour"
                );
                let sent = &organisation.mails_sent.0;
                assert_eq!(sent.len(), kept, "{name}: mails in the profile after");
                assert_eq!(
                    sent.last(),
                    Some(&SentMail {
                        to: address_hash(&email(TO)),
                        at: now()
                    }),
                    "{name}: this mail recorded"
                );
                assert!(
                    sent.iter().all(|m| m.at > now() - hours(24)),
                    "{name}: older mails forgotten"
                );
            }
            (Expected::Suppress, Ok(MailCount::Suppress)) => {
                assert_eq!(
                    organisation.mails_sent, before,
                    "{name}: a suppressed mail is not recorded"
                );
            }
            (
                Expected::TooMany(wait),
                Err(Rejection::TooMany {
                    message,
                    retry_after_seconds,
                }),
            ) => {
                assert_eq!(retry_after_seconds, wait, "{name}: Retry-After");
                assert!(
                    message.contains(&format!(
                        "sent {} verification and invitation mails",
                        case.budget
                    )),
                    "{name}: {message}"
                );
                assert_eq!(organisation.mails_sent, before, "{name}: nothing recorded");
            }
            (_, other) => panic!("{name}: unexpected {other:?}"),
        }
    }
}

fn new_organisation(kind: OrganisationType, vat: Option<&str>) -> NewOrganisation {
    NewOrganisation {
        name: OrganisationName::parse("organisationName", "Acme").unwrap(),
        organisation_type: kind,
        contact_email: email("ops@acme.example"),
        company_name: None,
        company_address: None,
        vat_number: vat.map(|v| VatNumber::parse(v).unwrap()),
        accepted_agreements: vec!["terms-of-service".into()],
    }
}

#[test]
fn create_makes_the_caller_its_first_admin_in_one_change() {
    const IDENTITY: &str = "put OrganisationIdentity if Absent else retry";
    const MEMBER: &str = "put Member if Absent else retry";
    const BY_SUBJECT: &str = "put MemberBySubject if Anything else retry";
    const BY_EMAIL: &str = "put MemberByEmail if Absent else refuse MemberEmailTaken";
    const CODE: &str = "put EmailCode if Absent else retry";
    const FIRST_LOG: &str = "put CreationLog if Version(None) else retry";
    const COUNT: &str = "count AddressMail if Anything else refuse AddressMailCap";
    const REGISTRATION: &str = "put Registration if Absent else refuse AlreadyRegistered";
    struct Case {
        name: &'static str,
        kind: OrganisationType,
        vat: Option<&'static str>,
        vies: Option<ViesAnswer>,
        registration: bool,
        email_verified: bool,
        /// The contact address had its hourly share from all organisations.
        address_capped: bool,
        writes: Vec<&'static str>,
        vat_status: Option<VatStatus>,
        restricted: bool,
        message_has: &'static str,
    }
    let cases = [
        Case {
            name: "a business",
            kind: Business,
            vat: None,
            vies: None,
            registration: false,
            email_verified: true,
            address_capped: false,
            writes: vec![
                IDENTITY, MEMBER, BY_SUBJECT, BY_EMAIL, CODE, FIRST_LOG, COUNT,
            ],
            vat_status: None,
            restricted: false,
            message_has: "alice@example.com created organisation Acme (acme)",
        },
        Case {
            name: "a registration",
            kind: Business,
            vat: None,
            vies: None,
            registration: true,
            email_verified: true,
            address_capped: false,
            writes: vec![
                IDENTITY,
                MEMBER,
                BY_SUBJECT,
                BY_EMAIL,
                CODE,
                FIRST_LOG,
                COUNT,
                REGISTRATION,
            ],
            vat_status: None,
            restricted: false,
            message_has: "created organisation",
        },
        Case {
            name: "a caller without a verified e-mail has no e-mail lookup",
            kind: Individual,
            vat: None,
            vies: None,
            registration: false,
            email_verified: false,
            address_capped: false,
            writes: vec![IDENTITY, MEMBER, BY_SUBJECT, CODE, FIRST_LOG, COUNT],
            vat_status: None,
            restricted: false,
            message_has: "created organisation",
        },
        Case {
            name: "a trial is restricted to the available cloud providers",
            kind: Trial,
            vat: None,
            vies: None,
            registration: false,
            email_verified: true,
            address_capped: false,
            writes: vec![
                IDENTITY, MEMBER, BY_SUBJECT, BY_EMAIL, CODE, FIRST_LOG, COUNT,
            ],
            vat_status: None,
            restricted: true,
            message_has: "created organisation",
        },
        Case {
            name: "a VAT number VIES was not asked about is pending",
            kind: Business,
            vat: Some("NL004495445B01"),
            vies: None,
            registration: false,
            email_verified: true,
            address_capped: false,
            writes: vec![
                IDENTITY, MEMBER, BY_SUBJECT, BY_EMAIL, CODE, FIRST_LOG, COUNT,
            ],
            vat_status: Some(VatStatus::Pending),
            restricted: false,
            message_has: "created organisation",
        },
        Case {
            name: "a VAT number VIES confirmed",
            kind: Business,
            vat: Some("NL004495445B01"),
            vies: Some(ViesAnswer::Valid {
                name: Some("ACME BV".into()),
                address: None,
            }),
            registration: false,
            email_verified: true,
            address_capped: false,
            writes: vec![
                IDENTITY, MEMBER, BY_SUBJECT, BY_EMAIL, CODE, FIRST_LOG, COUNT,
            ],
            vat_status: Some(VatStatus::Verified),
            restricted: false,
            message_has: "; VIES confirmed the VAT number",
        },
        Case {
            name: "VIES unavailable",
            kind: Business,
            vat: Some("NL004495445B01"),
            vies: Some(ViesAnswer::Unavailable("timeout".into())),
            registration: false,
            email_verified: true,
            address_capped: false,
            writes: vec![
                IDENTITY, MEMBER, BY_SUBJECT, BY_EMAIL, CODE, FIRST_LOG, COUNT,
            ],
            vat_status: Some(VatStatus::Unavailable),
            restricted: false,
            message_has: "VIES could not be asked",
        },
        Case {
            name: "the contact address had its share: the code is issued, its mail suppressed",
            kind: Business,
            vat: None,
            vies: None,
            registration: false,
            email_verified: true,
            address_capped: true,
            writes: vec![IDENTITY, MEMBER, BY_SUBJECT, BY_EMAIL, CODE, FIRST_LOG],
            vat_status: None,
            restricted: false,
            message_has: "created organisation",
        },
    ];
    let ids = NewIdentities {
        organisation: uuid::Uuid::new_v4(),
        admin: uuid::Uuid::new_v4(),
    };
    for case in cases {
        let mut caller = caller("alice");
        caller.email_verified = case.email_verified;
        let how = Creation {
            ids,
            vies: case.vies.as_ref(),
            registration: case.registration,
            limit: 10,
            limits: limits(200, 10, case.address_capped),
        };
        let new = new_organisation(case.kind, case.vat);
        let created = create_organisation(
            &new,
            &caller,
            Slug::parse("acme").unwrap(),
            how,
            &creation_log(&[], 0),
            now(),
        )
        .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        let change = &created.change;
        assert_eq!(shapes(change), case.writes, "{}: the writes", case.name);
        let Profile::Create(profile) = &change.profile else {
            panic!("{}: a create", case.name)
        };
        assert_eq!(
            profile, &created.organisation,
            "{}: the profile answered is the one created",
            case.name
        );
        assert_eq!(
            (profile.revision, profile.admin_count, profile.identity),
            (1, 1, ids.organisation),
            "{}",
            case.name
        );
        assert_eq!(
            profile.restricted_to_available_cloud_providers, case.restricted,
            "{}: restricted",
            case.name
        );
        assert_eq!(
            profile.verification.vat_status, case.vat_status,
            "{}: VAT status",
            case.name
        );
        let codes: Vec<_> = puts(change)
            .into_iter()
            .filter_map(|r| match r {
                Record::EmailCode(code) => Some(code),
                _ => None,
            })
            .collect();
        assert_eq!(codes.len(), 1, "{}: one code", case.name);
        assert_eq!(
            profile.verification.contact_code_hash.as_deref(),
            Some(codes[0].code_hash.as_str()),
            "{}: the profile names the contact address's code",
            case.name
        );
        let mailed = !case.address_capped;
        assert_eq!(
            created.mail.as_ref().map(|mail| &mail.record),
            mailed.then_some(codes[0]),
            "{}: the code mailed, unless suppressed",
            case.name
        );
        let expected_counters = if mailed {
            vec![counter("ops@acme.example")]
        } else {
            vec![]
        };
        assert_eq!(
            counters(change).into_iter().cloned().collect::<Vec<_>>(),
            expected_counters,
            "{}: the address's counter",
            case.name
        );
        let sent = if mailed {
            vec![("ops@acme.example", Duration::zero())]
        } else {
            vec![]
        };
        assert_eq!(
            profile.mails_sent,
            mails_sent(&sent),
            "{}: the profile records the mail sent",
            case.name
        );
        let event = change.activity.as_ref().expect("an activity event");
        assert_eq!(
            event.event_type,
            ActivityType::OrganisationCreated,
            "{}",
            case.name
        );
        assert!(
            event.message.contains(case.message_has),
            "{}: {}",
            case.name,
            event.message
        );
        let outbound = event.outbound.as_ref().expect("published");
        assert_eq!(outbound.revision, 1, "{}: the outbound revision", case.name);
        assert!(
            outbound
                .events
                .iter()
                .any(|e| e.detail_type == DetailType::OrganisationCreated),
            "{}",
            case.name
        );
        let members: Vec<_> = puts(change)
            .into_iter()
            .filter_map(|r| match r {
                Record::Member(m) => Some(m),
                _ => None,
            })
            .collect();
        assert_eq!(members.len(), 1, "{}", case.name);
        assert_eq!(
            (members[0].identity, members[0].role),
            (ids.admin, Role::Admin),
            "{}",
            case.name
        );
        assert_eq!(
            members[0].subject.as_ref(),
            Some(&caller.subject),
            "{}: a joined admin",
            case.name
        );
        assert!(change.ledger.is_none(), "{}", case.name);
    }
}

#[test]
fn create_is_refused_for_enterprise_and_past_the_daily_limit() {
    struct Case {
        name: &'static str,
        kind: OrganisationType,
        log: CreationLog,
        limit: usize,
        /// The organisation's daily mail budget.
        mails: usize,
        kind_says: (&'static str, &'static str),
    }
    let day: Vec<Duration> = (1..=3).map(Duration::hours).collect();
    let cases = [
        Case {
            name: "ENTERPRISE",
            kind: Enterprise,
            log: creation_log(&[], 0),
            limit: 10,
            mails: 200,
            kind_says: ("forbidden", "ENTERPRISE"),
        },
        Case {
            name: "the limit reached",
            kind: Business,
            log: creation_log(&day, 3),
            limit: 3,
            mails: 200,
            kind_says: ("too many", "created 3 organisations in the last 24 hours"),
        },
        Case {
            name: "no mail budget: the verification mail cannot be sent",
            kind: Business,
            log: creation_log(&[], 0),
            limit: 10,
            mails: 0,
            kind_says: (
                "too many",
                "sent 0 verification and invitation mails in the last 24 hours",
            ),
        },
    ];
    for case in cases {
        let ids = NewIdentities {
            organisation: uuid::Uuid::new_v4(),
            admin: uuid::Uuid::new_v4(),
        };
        let how = Creation {
            ids,
            vies: None,
            registration: false,
            limit: case.limit,
            limits: limits(case.mails, 10, false),
        };
        let result = create_organisation(
            &new_organisation(case.kind, None),
            &caller("alice"),
            Slug::parse("acme").unwrap(),
            how,
            &case.log,
            now(),
        )
        .map(|created| created.organisation);
        assert_rejected(case.name, &result, case.kind_says.0, case.kind_says.1);
    }
}

fn org_patch() -> OrganisationPatch {
    OrganisationPatch {
        name: None,
        organisation_type: None,
        contact_email: None,
        billing_email: None,
        vat_number: None,
    }
}

#[test]
fn a_customers_patch() {
    enum Expected {
        Nothing,
        Written {
            message_has: &'static str,
            writes: Vec<&'static str>,
            challenges: Vec<EmailKind>,
            /// Codes issued whose mail is suppressed.
            suppressed: usize,
            holds: fn(&Organisation) -> bool,
        },
        Rejected(&'static str, &'static str),
        AskVies,
    }
    struct Case {
        name: &'static str,
        kind: OrganisationType,
        payment: bool,
        billing: Option<&'static str>,
        vat: Option<&'static str>,
        patch: OrganisationPatch,
        vies: Option<ViesAnswer>,
        vies_configured: bool,
        /// Mails the organisation sent: to whom, how long ago.
        sent: Vec<(&'static str, Duration)>,
        /// How long ago the organisation changed its VAT number.
        vat_changes: Vec<Duration>,
        limits: Limits,
        expected: Expected,
    }
    let base = || Case {
        name: "",
        kind: Business,
        payment: false,
        billing: None,
        vat: None,
        patch: org_patch(),
        vies: None,
        vies_configured: true,
        sent: vec![],
        vat_changes: vec![],
        limits: Limits::default(),
        expected: Expected::Nothing,
    };
    let code = "put EmailCode if Absent else retry";
    let count = "count AddressMail if Anything else refuse AddressMailCap";
    let five_this_hour = |to: &'static str| {
        (1..=5)
            .map(move |m| (to, Duration::minutes(m * 10)))
            .collect()
    };
    let hours = |ages: &[i64]| ages.iter().map(|h| Duration::hours(*h)).collect();
    let vat = || VatNumber::parse("NL004495445B01").unwrap();
    let cases = [
        Case {
            name: "the same name",
            patch: OrganisationPatch {
                name: Some(OrganisationName::parse("n", "Acme").unwrap()),
                ..org_patch()
            },
            ..base()
        },
        Case {
            name: "an empty patch",
            ..base()
        },
        Case {
            name: "the same type",
            patch: OrganisationPatch {
                organisation_type: Some(Business),
                ..org_patch()
            },
            ..base()
        },
        Case {
            name: "a new name",
            patch: OrganisationPatch {
                name: Some(OrganisationName::parse("n", "Acme Two").unwrap()),
                ..org_patch()
            },
            expected: Expected::Written {
                message_has: "alice@example.com changed organisationName",
                writes: vec![],
                challenges: vec![],
                suppressed: 0,
                holds: |o| o.name.as_str() == "Acme Two",
            },
            ..base()
        },
        Case {
            name: "a new contact address is unverified and challenged",
            patch: OrganisationPatch {
                contact_email: Some(email("new@acme.example")),
                ..org_patch()
            },
            expected: Expected::Written {
                message_has: "changed contactEmail",
                writes: vec![code, count],
                challenges: vec![EmailKind::Contact],
                suppressed: 0,
                holds: |o| {
                    o.contact_email.as_str() == "new@acme.example"
                        && o.verification.contact_email_verified_at.is_none()
                },
            },
            ..base()
        },
        Case {
            name: "a first billing address is challenged",
            patch: OrganisationPatch {
                billing_email: Some(Some(email("billing@acme.example"))),
                ..org_patch()
            },
            expected: Expected::Written {
                message_has: "changed billingEmail",
                writes: vec![code, count],
                challenges: vec![EmailKind::Billing],
                suppressed: 0,
                holds: |o| o.billing_email.is_some(),
            },
            ..base()
        },
        Case {
            name: "a cleared billing address is not challenged",
            billing: Some("billing@acme.example"),
            patch: OrganisationPatch {
                billing_email: Some(None),
                ..org_patch()
            },
            expected: Expected::Written {
                message_has: "changed billingEmail",
                writes: vec![],
                challenges: vec![],
                suppressed: 0,
                holds: |o| o.billing_email.is_none(),
            },
            ..base()
        },
        Case {
            name: "both addresses at once",
            patch: OrganisationPatch {
                contact_email: Some(email("new@acme.example")),
                billing_email: Some(Some(email("b@acme.example"))),
                ..org_patch()
            },
            expected: Expected::Written {
                message_has: "changed contactEmail, billingEmail",
                writes: vec![code, code, count, count],
                challenges: vec![EmailKind::Contact, EmailKind::Billing],
                suppressed: 0,
                holds: |_| true,
            },
            ..base()
        },
        Case {
            name: "TRIAL to BUSINESS without a payment method",
            kind: Trial,
            patch: OrganisationPatch {
                organisation_type: Some(Business),
                ..org_patch()
            },
            expected: Expected::Rejected("invalid", "needs a valid payment method"),
            ..base()
        },
        Case {
            name: "TRIAL to BUSINESS with a payment method lifts the restriction",
            kind: Trial,
            payment: true,
            patch: OrganisationPatch {
                organisation_type: Some(Business),
                ..org_patch()
            },
            expected: Expected::Written {
                message_has: "changed organisationType",
                writes: vec![],
                challenges: vec![],
                suppressed: 0,
                holds: |o| {
                    o.organisation_type == Business && !o.restricted_to_available_cloud_providers
                },
            },
            ..base()
        },
        Case {
            name: "ENTERPRISE is refused to customers",
            payment: true,
            patch: OrganisationPatch {
                organisation_type: Some(Enterprise),
                ..org_patch()
            },
            expected: Expected::Rejected("forbidden", "ENTERPRISE"),
            ..base()
        },
        Case {
            name: "a new VAT number before VIES was asked",
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            expected: Expected::AskVies,
            ..base()
        },
        Case {
            name: "a new VAT number VIES answered valid",
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            vies: Some(ViesAnswer::Valid {
                name: Some("ACME".into()),
                address: Some("Street 1".into()),
            }),
            expected: Expected::Written {
                message_has: "changed vatNumber; VIES confirmed the VAT number",
                writes: vec![],
                challenges: vec![],
                suppressed: 0,
                holds: |o| {
                    o.vat_code_validated
                        && o.verification.vat_status == Some(VatStatus::Verified)
                        && o.verification.vat_legal_entity_name.as_deref() == Some("ACME")
                },
            },
            ..base()
        },
        Case {
            name: "a new VAT number VIES answered invalid",
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            vies: Some(ViesAnswer::Invalid),
            expected: Expected::Written {
                message_has: "VIES says the VAT number is not valid",
                writes: vec![],
                challenges: vec![],
                suppressed: 0,
                holds: |o| {
                    !o.vat_code_validated
                        && o.verification.vat_status == Some(VatStatus::Unverified)
                },
            },
            ..base()
        },
        Case {
            name: "a new VAT number without VIES stays pending",
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            vies_configured: false,
            expected: Expected::Written {
                message_has: "changed vatNumber",
                writes: vec![],
                challenges: vec![],
                suppressed: 0,
                holds: |o| {
                    o.verification.vat_status == Some(VatStatus::Pending)
                        && o.vat_next_check_at.is_some()
                },
            },
            ..base()
        },
        Case {
            name: "the same VAT number asks nothing",
            vat: Some("NL004495445B01"),
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            ..base()
        },
        Case {
            name: "a cleared VAT number needs no VIES",
            vat: Some("NL004495445B01"),
            patch: OrganisationPatch {
                vat_number: Some(None),
                ..org_patch()
            },
            expected: Expected::Written {
                message_has: "changed vatNumber",
                writes: vec![],
                challenges: vec![],
                suppressed: 0,
                holds: |o| {
                    o.vat_code.is_none()
                        && o.verification.vat_status.is_none()
                        && o.vat_next_check_at.is_none()
                },
            },
            ..base()
        },
        Case {
            name:
                "an address this organisation mailed five times this hour: the mail is suppressed",
            patch: OrganisationPatch {
                contact_email: Some(email("new@acme.example")),
                ..org_patch()
            },
            sent: five_this_hour("new@acme.example"),
            expected: Expected::Written {
                message_has: "changed contactEmail",
                writes: vec![code],
                challenges: vec![],
                suppressed: 1,
                holds: |o| o.verification.contact_code_hash.is_some(),
            },
            ..base()
        },
        Case {
            name: "an address that had its share from all organisations: the mail is suppressed",
            patch: OrganisationPatch {
                contact_email: Some(email("new@acme.example")),
                ..org_patch()
            },
            limits: limits(200, 10, true),
            expected: Expected::Written {
                message_has: "changed contactEmail",
                writes: vec![code],
                challenges: vec![],
                suppressed: 1,
                holds: |o| o.mails_sent.0.is_empty(),
            },
            ..base()
        },
        Case {
            name: "both addresses, the billing one mailed five times this hour",
            patch: OrganisationPatch {
                contact_email: Some(email("new@acme.example")),
                billing_email: Some(Some(email("b@acme.example"))),
                ..org_patch()
            },
            sent: five_this_hour("b@acme.example"),
            expected: Expected::Written {
                message_has: "changed contactEmail, billingEmail",
                writes: vec![code, code, count],
                challenges: vec![EmailKind::Contact],
                suppressed: 1,
                holds: |_| true,
            },
            ..base()
        },
        Case {
            name: "one mail below the daily budget",
            patch: OrganisationPatch {
                contact_email: Some(email("new@acme.example")),
                ..org_patch()
            },
            sent: vec![
                ("x@acme.example", Duration::hours(1)),
                ("y@acme.example", Duration::hours(2)),
            ],
            limits: limits(3, 10, false),
            expected: Expected::Written {
                message_has: "changed contactEmail",
                writes: vec![code, count],
                challenges: vec![EmailKind::Contact],
                suppressed: 0,
                holds: |o| o.mails_sent.0.len() == 3,
            },
            ..base()
        },
        Case {
            name: "the daily mail budget spent",
            patch: OrganisationPatch {
                contact_email: Some(email("new@acme.example")),
                ..org_patch()
            },
            sent: vec![
                ("x@acme.example", Duration::hours(1)),
                ("y@acme.example", Duration::hours(2)),
                ("z@acme.example", Duration::hours(3)),
            ],
            limits: limits(3, 10, false),
            expected: Expected::Rejected(
                "too many",
                "sent 3 verification and invitation mails in the last 24 hours",
            ),
            ..base()
        },
        Case {
            name: "the daily mail budget spent refuses a suppressed mail too",
            patch: OrganisationPatch {
                contact_email: Some(email("new@acme.example")),
                ..org_patch()
            },
            sent: vec![("x@acme.example", Duration::hours(1))],
            limits: limits(1, 10, true),
            expected: Expected::Rejected("too many", "sent 1 verification and invitation mails"),
            ..base()
        },
        Case {
            name: "a new VAT number with the VAT change budget spent: 429 before VIES is asked",
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            vat_changes: hours(&[1, 2]),
            limits: limits(200, 2, false),
            expected: Expected::Rejected("too many", "was changed 2 times in the last 24 hours"),
            ..base()
        },
        Case {
            name: "a VAT change exactly a day ago no longer counts: VIES is asked",
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            vat_changes: hours(&[24, 1]),
            limits: limits(200, 2, false),
            expected: Expected::AskVies,
            ..base()
        },
        Case {
            name: "one VAT change below the budget is recorded",
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            vies: Some(ViesAnswer::Invalid),
            vat_changes: hours(&[25, 1]),
            limits: limits(200, 2, false),
            expected: Expected::Written {
                message_has: "changed vatNumber",
                writes: vec![],
                challenges: vec![],
                suppressed: 0,
                holds: |o| o.vat_changes == [now() - Duration::hours(1), now()],
            },
            ..base()
        },
        Case {
            name: "clearing the VAT number counts against the budget",
            vat: Some("NL004495445B01"),
            patch: OrganisationPatch {
                vat_number: Some(None),
                ..org_patch()
            },
            vat_changes: hours(&[1, 2]),
            limits: limits(200, 2, false),
            expected: Expected::Rejected("too many", "changed 2 times"),
            ..base()
        },
        Case {
            name: "without VIES the VAT change budget still holds",
            patch: OrganisationPatch {
                vat_number: Some(Some(vat())),
                ..org_patch()
            },
            vies_configured: false,
            vat_changes: hours(&[1, 2]),
            limits: limits(200, 2, false),
            expected: Expected::Rejected("too many", "changed 2 times"),
            ..base()
        },
    ];
    for case in cases {
        let mut before = organisation();
        before.organisation_type = case.kind;
        before.follow_type();
        before.revision = 4;
        before.billing_email = case.billing.map(email);
        before.mails_sent = mails_sent(&case.sent);
        before.vat_changes = case.vat_changes.iter().map(|age| now() - *age).collect();
        if let Some(number) = case.vat {
            before.set_vat_number(Some(&VatNumber::parse(number).unwrap()), now());
        }
        let mut access = access_to(before.clone());
        if case.payment {
            access.ledger = access.ledger.with_payment_method("pm-1", Some(now()));
        }
        let vies = match (&case.vies, case.vies_configured) {
            (_, false) => ViesLookup::Unavailable,
            (Some(answer), true) => ViesLookup::Answered(answer),
            (None, true) => ViesLookup::NotAsked,
        };
        let result = update_organisation(&access, &case.patch, vies, case.limits, now());
        let name = case.name;
        match (case.expected, result) {
            (Expected::Nothing, Ok(decision)) => {
                assert!(decision.change.is_none(), "{name}: nothing written");
                assert_eq!(decision.outcome.organisation, before, "{name}: unchanged");
            }
            (Expected::Rejected(kind, says), Err(PatchBlocked::Rejected(rejection))) => {
                assert_rejected::<()>(name, &Err(rejection), kind, says);
            }
            (Expected::AskVies, Err(PatchBlocked::AskVies(number))) => {
                assert_eq!(number, vat(), "{name}: VIES is asked about the new number");
            }
            (
                Expected::Written {
                    message_has,
                    writes,
                    challenges,
                    suppressed,
                    holds,
                },
                Ok(decision),
            ) => {
                let change = decision.change.expect("a change");
                let (after, read) = updated(&change);
                assert_eq!((read, after.revision), (4, 5), "{name}: the next revision");
                assert!(holds(after), "{name}: the profile after: {after:?}");
                assert_eq!(
                    &decision.outcome.organisation, after,
                    "{name}: answered as written"
                );
                let event = change.activity.as_ref().unwrap();
                assert_eq!(
                    event.event_type,
                    ActivityType::OrganisationUpdated,
                    "{name}"
                );
                assert!(
                    event.message.contains(message_has),
                    "{name}: {}",
                    event.message
                );
                assert_eq!(
                    event.outbound.as_ref().map(|o| o.revision),
                    Some(5),
                    "{name}: outbound revision"
                );
                assert_eq!(shapes(&change), writes, "{name}: writes");
                let kinds: Vec<EmailKind> = decision
                    .outcome
                    .challenges
                    .iter()
                    .map(|c| c.record.kind)
                    .collect();
                assert_eq!(kinds, challenges, "{name}: challenges");
                for challenge in &decision.outcome.challenges {
                    assert_eq!(
                        after.verification.code_hash(challenge.record.kind),
                        Some(challenge.record.code_hash.as_str()),
                        "{name}: the profile names the code mailed"
                    );
                    assert!(
                        puts(&change).contains(&&Record::EmailCode(challenge.record.clone())),
                        "{name}: the code is stored"
                    );
                }
                assert_eq!(
                    decision.outcome.suppressed, suppressed,
                    "{name}: suppressed mails"
                );
                let issued: Vec<_> = puts(&change)
                    .into_iter()
                    .filter_map(|r| match r {
                        Record::EmailCode(code) => Some(code),
                        _ => None,
                    })
                    .collect();
                assert_eq!(
                    issued.len(),
                    challenges.len() + suppressed,
                    "{name}: a code for every changed address, mailed or not"
                );
                for code in issued {
                    assert_eq!(
                        after.verification.code_hash(code.kind),
                        Some(code.code_hash.as_str()),
                        "{name}: the profile names every code issued"
                    );
                }
                let mailed: Vec<AddressMailCounter> = decision
                    .outcome
                    .challenges
                    .iter()
                    .map(|c| AddressMailCounter::new(&address_hash(&c.record.email), now()))
                    .collect();
                assert_eq!(
                    counters(&change).into_iter().cloned().collect::<Vec<_>>(),
                    mailed,
                    "{name}: each mail counted on its address's counter"
                );
                let recorded: Vec<&str> = after
                    .mails_sent
                    .0
                    .iter()
                    .filter(|m| m.at == now())
                    .map(|m| m.to.as_str())
                    .collect();
                assert_eq!(
                    recorded,
                    mailed
                        .iter()
                        .map(|c| c.address_hash.as_str())
                        .collect::<Vec<_>>(),
                    "{name}: the profile records each mail sent"
                );
                assert!(change.ledger.is_none(), "{name}");
            }
            (_, other) => panic!("{name}: unexpected {other:?}"),
        }
    }
}

#[test]
fn delete_is_guarded_by_identity_ledger_and_revision() {
    struct Case {
        name: &'static str,
        other_identity: bool,
        ledger: (u64, u64, u64),
        codes: (bool, bool),
        /// Ok: the writes; Err: the rejection's kind and gist.
        expected: Result<Vec<&'static str>, (&'static str, &'static str)>,
    }
    const GUARDS: [&str; 4] = [
        "check Ledger if LedgerClear else retry",
        "remove OrganisationIdentity if Anything else retry",
        "put PurgeMarker if Anything else retry",
        "put Deletion if Anything else retry",
    ];
    const CODE: &str = "remove EmailCode if Anything else retry";
    let cases = [
        Case {
            name: "another organisation's identity",
            other_identity: true,
            ledger: (0, 0, 0),
            codes: (false, false),
            expected: Err(("not found", "does not exist")),
        },
        Case {
            name: "one active cluster",
            other_identity: false,
            ledger: (1, 0, 0),
            codes: (false, false),
            expected: Err((
                "invalid",
                "while it has 1 active cluster. Remove them first.",
            )),
        },
        Case {
            name: "everything active",
            other_identity: false,
            ledger: (2, 1, 3),
            codes: (false, false),
            expected: Err((
                "invalid",
                "1 configured cloud account, 2 active clusters, 3 active monitoring tenants",
            )),
        },
        Case {
            name: "a clear ledger",
            other_identity: false,
            ledger: (0, 0, 0),
            codes: (false, false),
            expected: Ok(GUARDS.to_vec()),
        },
        Case {
            name: "with a pending contact code",
            other_identity: false,
            ledger: (0, 0, 0),
            codes: (true, false),
            expected: Ok([&GUARDS[..], &[CODE]].concat()),
        },
        Case {
            name: "with both codes pending",
            other_identity: false,
            ledger: (0, 0, 0),
            codes: (true, true),
            expected: Ok([&GUARDS[..], &[CODE, CODE]].concat()),
        },
    ];
    for case in cases {
        let mut access = access();
        access.organisation.revision = 7;
        (
            access.ledger.active_clusters,
            access.ledger.cloud_accounts,
            access.ledger.monitoring_tenants,
        ) = case.ledger;
        if case.codes.0 {
            access.organisation.verification.contact_code_hash = Some("contact-hash".into());
        }
        if case.codes.1 {
            access.organisation.verification.billing_code_hash = Some("billing-hash".into());
        }
        let identity = if case.other_identity {
            uuid::Uuid::new_v4()
        } else {
            access.organisation.identity
        };
        let result = delete_organisation(&access, identity, now());
        match case.expected {
            Err((kind, says)) => assert_rejected(case.name, &result, kind, says),
            Ok(writes) => {
                let change = result.unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
                assert_eq!(
                    change.profile,
                    Profile::Delete { read_revision: 7 },
                    "{}",
                    case.name
                );
                assert!(
                    change.activity.is_none(),
                    "{}: a deletion writes no activity event",
                    case.name
                );
                assert_eq!(shapes(&change), writes, "{}", case.name);
                let removed: Vec<&RecordKey> = change
                    .writes
                    .iter()
                    .filter_map(|w| match &w.operation {
                        crate::domain::change::Operation::Remove(key) => Some(key),
                        _ => None,
                    })
                    .collect();
                assert_eq!(
                    removed[0],
                    &RecordKey::OrganisationIdentity(identity),
                    "{}",
                    case.name
                );
                let Some(Record::Deletion(record)) = puts(&change).last().copied() else {
                    panic!("{}", case.name)
                };
                assert_eq!(
                    (record.identity, record.deleted_by.as_str()),
                    (identity, "alice"),
                    "{}",
                    case.name
                );
                assert_eq!(
                    record.expires_at,
                    (now() + Duration::days(DELETION_RECORD_DAYS)).timestamp(),
                    "{}",
                    case.name
                );
                let outbound = record
                    .outbound
                    .as_ref()
                    .expect("OrganisationDeleted is published from the record");
                assert_eq!(
                    outbound.events[0].detail_type,
                    DetailType::OrganisationDeleted,
                    "{}",
                    case.name
                );
            }
        }
    }
}
