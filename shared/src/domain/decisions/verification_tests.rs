//! Table tests of the verification decisions: the legal entity's confirmation, e-mail codes,
//! VIES answers of the scheduled re-validation, and the resend of a verification mail.

use super::*;
use crate::domain::budgets::SentMail;
use crate::domain::change::Profile;
use crate::domain::decisions::fixtures::{
    access, access_to, assert_rejected, counter, counters, email, limits, mails_sent, now, puts,
    shapes, updated,
};
use crate::domain::organisation::tests_support::organisation;
use crate::domain::verification::VatStatus;

fn vat() -> VatNumber {
    VatNumber::parse("NL004495445B01").unwrap()
}

/// An organisation with the VAT number, VIES's last answer `answer` (none: pending).
fn with_vat(answer: Option<ViesAnswer>) -> Organisation {
    let mut organisation = organisation();
    organisation.set_vat_number(Some(&vat()), now() - Duration::days(40));
    if let Some(answer) = answer {
        organisation.record_vies_answer(&answer, now() - Duration::days(40));
    }
    organisation
}

fn registry() -> ViesAnswer {
    ViesAnswer::Valid {
        name: Some("ACME B.V.".into()),
        address: Some("Main Street 1, Amsterdam".into()),
    }
}

#[test]
fn the_legal_entity_is_confirmed_only_against_what_vies_holds() {
    struct Case {
        name: &'static str,
        before: Organisation,
        submitted: (Option<&'static str>, Option<&'static str>),
        /// Ok: (name verified, address verified, message gist); Err: the rejection's gist.
        expected: Result<(bool, bool, &'static str), &'static str>,
    }
    let unavailable_since = {
        let mut o = with_vat(Some(registry()));
        o.record_vies_answer(&ViesAnswer::Unavailable("down".into()), now());
        o
    };
    let no_address = with_vat(Some(ViesAnswer::Valid {
        name: Some("ACME B.V.".into()),
        address: None,
    }));
    let cases = [
        Case {
            name: "no VAT number",
            before: organisation(),
            submitted: (Some("ACME B.V."), None),
            expected: Err("VIES has not confirmed"),
        },
        Case {
            name: "VIES said invalid",
            before: with_vat(Some(ViesAnswer::Invalid)),
            submitted: (Some("ACME B.V."), None),
            expected: Err("VIES has not confirmed"),
        },
        Case {
            name: "not asked yet",
            before: with_vat(None),
            submitted: (Some("ACME B.V."), None),
            expected: Err("VIES has not confirmed"),
        },
        Case {
            name: "the name, spaced and cased otherwise",
            before: with_vat(Some(registry())),
            submitted: (Some("  acme   b.v. "), None),
            expected: Ok((true, false, "confirmed the VAT legal entity's name")),
        },
        Case {
            name: "both",
            before: with_vat(Some(registry())),
            submitted: (Some("ACME B.V."), Some("Main Street 1, Amsterdam")),
            expected: Ok((true, true, "entity's name and address")),
        },
        Case {
            name: "the address only",
            before: with_vat(Some(registry())),
            submitted: (None, Some("main street 1, amsterdam")),
            expected: Ok((false, true, "entity's address")),
        },
        Case {
            name: "a VIES outage since leaves the last answer standing",
            before: unavailable_since,
            submitted: (Some("ACME B.V."), None),
            expected: Ok((true, false, "entity's name")),
        },
        Case {
            name: "another name",
            before: with_vat(Some(registry())),
            submitted: (Some("ACME Holding"), None),
            expected: Err("vatLegalEntityName: does not match what VIES holds"),
        },
        Case {
            name: "a matching name but another address",
            before: with_vat(Some(registry())),
            submitted: (Some("ACME B.V."), Some("Elsewhere 2")),
            expected: Err("vatLegalEntityAddress: does not match"),
        },
        Case {
            name: "an address VIES does not hold",
            before: no_address,
            submitted: (None, Some("Main Street 1")),
            expected: Err("vatLegalEntityAddress: VIES holds no value to compare with"),
        },
    ];
    for case in cases {
        let revision = case.before.revision;
        let access = access_to(case.before);
        let result = confirm_legal_entity(&access, case.submitted.0, case.submitted.1, now());
        match case.expected {
            Err(says) => assert_rejected(case.name, &result, "invalid", says),
            Ok((name_verified, address_verified, message)) => {
                let decision = result.unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
                let change = decision.change.expect("a change");
                let (after, read) = updated(&change);
                assert_eq!(
                    (read, after.revision),
                    (revision, revision + 1),
                    "{}",
                    case.name
                );
                assert_eq!(
                    &decision.outcome, after,
                    "{}: answered as written",
                    case.name
                );
                let v = &after.verification;
                assert_eq!(
                    v.vat_legal_entity_name_verified_at,
                    name_verified.then(now),
                    "{}: name",
                    case.name
                );
                assert_eq!(
                    v.vat_legal_entity_address_verified_at,
                    address_verified.then(now),
                    "{}: address",
                    case.name
                );
                let event = change.activity.as_ref().unwrap();
                assert_eq!(
                    event.event_type,
                    ActivityType::VatLegalEntityConfirmed,
                    "{}",
                    case.name
                );
                assert!(
                    event.message.ends_with(message),
                    "{}: {}",
                    case.name,
                    event.message
                );
                assert!(change.writes.is_empty(), "{}", case.name);
            }
        }
    }
}

#[test]
fn an_email_code_verifies_the_current_address_once() {
    struct Case {
        name: &'static str,
        kind: EmailKind,
        /// The address the code was sent to.
        sent_to: &'static str,
        /// Whether the profile names the code as the last one for its kind.
        current: bool,
        billing: Option<&'static str>,
        expected: Result<(), (&'static str, &'static str)>,
    }
    let cases = [
        Case {
            name: "the contact address",
            kind: EmailKind::Contact,
            sent_to: "ops@acme.example",
            current: true,
            billing: None,
            expected: Ok(()),
        },
        Case {
            name: "the billing address",
            kind: EmailKind::Billing,
            sent_to: "pay@acme.example",
            current: true,
            billing: Some("pay@acme.example"),
            expected: Ok(()),
        },
        Case {
            name: "the contact address changed since",
            kind: EmailKind::Contact,
            sent_to: "old@acme.example",
            current: true,
            billing: None,
            expected: Err(("invalid", "no longer old@acme.example")),
        },
        Case {
            name: "the billing address removed since",
            kind: EmailKind::Billing,
            sent_to: "pay@acme.example",
            current: true,
            billing: None,
            expected: Err(("invalid", "billing e-mail address is no longer")),
        },
        Case {
            name: "a code the profile does not name (an earlier organisation's)",
            kind: EmailKind::Contact,
            sent_to: "ops@acme.example",
            current: false,
            billing: None,
            expected: Err(("not found", "no longer exists")),
        },
    ];
    for case in cases {
        let mut before = organisation();
        before.billing_email = case.billing.map(email);
        let challenge = EmailChallenge::new(&before.slug, case.kind, &email(case.sent_to), now());
        if case.current {
            before.verification.issued(&challenge);
        }
        let result = verify_email(&before, &challenge.record, now());
        match case.expected {
            Err((kind, says)) => assert_rejected(case.name, &result, kind, says),
            Ok(()) => {
                let change = result.unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
                let (after, read) = updated(&change);
                assert_eq!((read, after.revision), (1, 2), "{}", case.name);
                assert_eq!(
                    after.verification.verified_at(case.kind),
                    Some(now()),
                    "{}: verified",
                    case.name
                );
                let other = match case.kind {
                    EmailKind::Contact => EmailKind::Billing,
                    EmailKind::Billing => EmailKind::Contact,
                };
                assert_eq!(
                    after.verification.verified_at(other),
                    None,
                    "{}: only this address",
                    case.name
                );
                assert_eq!(
                    shapes(&change),
                    ["put EmailCode if Unused else refuse CodeUsed"],
                    "{}",
                    case.name
                );
                let [Record::EmailCode(used)] = puts(&change)[..] else {
                    panic!("{}", case.name)
                };
                assert_eq!(
                    used,
                    &EmailCode {
                        used_at: Some(now()),
                        ..challenge.record.clone()
                    },
                    "{}: kept, marked used",
                    case.name
                );
                let event = change.activity.as_ref().unwrap();
                assert_eq!(
                    event.event_type,
                    ActivityType::EmailVerified,
                    "{}",
                    case.name
                );
                assert_eq!(
                    event.actor.email.as_deref(),
                    Some(case.sent_to),
                    "{}: the address's owner acted",
                    case.name
                );
                let outbound = event.outbound.as_ref().unwrap();
                assert_eq!(
                    (outbound.revision, outbound.events[0].detail_type),
                    (2, DetailType::EmailVerified),
                    "{}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn a_vies_answer_moves_the_revision_only_when_the_status_changes() {
    struct Case {
        name: &'static str,
        before: Organisation,
        number: &'static str,
        answer: ViesAnswer,
        /// None: not this organisation's number any more; Some: (changed, status after, validated after).
        expected: Option<(bool, VatStatus, bool)>,
    }
    let unavailable = || ViesAnswer::Unavailable("timeout".into());
    let cases = [
        Case {
            name: "another number",
            before: with_vat(None),
            number: "DE136695976",
            answer: registry(),
            expected: None,
        },
        Case {
            name: "no number any more",
            before: organisation(),
            number: "NL004495445B01",
            answer: registry(),
            expected: None,
        },
        Case {
            name: "PENDING to VERIFIED",
            before: with_vat(None),
            number: "NL004495445B01",
            answer: registry(),
            expected: Some((true, VatStatus::Verified, true)),
        },
        Case {
            name: "PENDING to UNVERIFIED",
            before: with_vat(None),
            number: "NL004495445B01",
            answer: ViesAnswer::Invalid,
            expected: Some((true, VatStatus::Unverified, false)),
        },
        Case {
            name: "VERIFIED again",
            before: with_vat(Some(registry())),
            number: "NL004495445B01",
            answer: registry(),
            expected: Some((false, VatStatus::Verified, true)),
        },
        Case {
            name: "VERIFIED to UNVERIFIED",
            before: with_vat(Some(registry())),
            number: "NL004495445B01",
            answer: ViesAnswer::Invalid,
            expected: Some((true, VatStatus::Unverified, false)),
        },
        Case {
            name: "VERIFIED, then VIES unavailable: the verdict stands",
            before: with_vat(Some(registry())),
            number: "NL004495445B01",
            answer: unavailable(),
            expected: Some((true, VatStatus::Unavailable, true)),
        },
        Case {
            name: "unavailable again",
            before: with_vat(Some(unavailable())),
            number: "NL004495445B01",
            answer: unavailable(),
            expected: Some((false, VatStatus::Unavailable, false)),
        },
    ];
    for case in cases {
        let number = VatNumber::parse(case.number).unwrap();
        let decision = record_vies_answer(&case.before, &number, &case.answer, now());
        let Some((changed, status, validated)) = case.expected else {
            assert!(decision.is_none(), "{}: nothing to record", case.name);
            continue;
        };
        let decision = decision.unwrap_or_else(|| panic!("{}: a decision", case.name));
        assert_eq!(decision.outcome, changed, "{}: changed", case.name);
        let change = decision.change.expect("the next check is always written");
        let (after, read) = updated(&change);
        let revision = case.before.revision;
        assert_eq!(read, revision, "{}", case.name);
        assert_eq!(
            after.revision,
            revision + u64::from(changed),
            "{}: revision",
            case.name
        );
        assert_eq!(
            after.verification.vat_status,
            Some(status),
            "{}: status",
            case.name
        );
        assert_eq!(
            after.vat_code_validated, validated,
            "{}: vatCodeValidated",
            case.name
        );
        assert!(
            after.vat_next_check_at.is_some_and(|at| at > now()),
            "{}: the next check is scheduled",
            case.name
        );
        match &change.activity {
            Some(event) => {
                assert!(changed, "{}: an event only for a change", case.name);
                assert_eq!(
                    event.event_type,
                    ActivityType::VatStatusChanged,
                    "{}",
                    case.name
                );
                assert!(
                    event
                        .message
                        .contains(&format!("is now {}", status.as_str())),
                    "{}: {}",
                    case.name,
                    event.message
                );
                assert_eq!(
                    event.outbound.as_ref().map(|o| o.revision),
                    Some(revision + 1),
                    "{}",
                    case.name
                );
            }
            None => assert!(!changed, "{}: a changed status is recorded", case.name),
        }
        assert!(change.writes.is_empty(), "{}", case.name);
    }
}

#[test]
fn a_resend_goes_only_to_an_unverified_address() {
    struct Case {
        name: &'static str,
        kind: EmailKind,
        billing: Option<&'static str>,
        verified: bool,
        expected: Result<&'static str, &'static str>,
    }
    let cases = [
        Case {
            name: "the unverified contact address",
            kind: EmailKind::Contact,
            billing: None,
            verified: false,
            expected: Ok("ops@acme.example"),
        },
        Case {
            name: "the unverified billing address",
            kind: EmailKind::Billing,
            billing: Some("pay@acme.example"),
            verified: false,
            expected: Ok("pay@acme.example"),
        },
        Case {
            name: "no billing address",
            kind: EmailKind::Billing,
            billing: None,
            verified: false,
            expected: Err("has no billing e-mail address"),
        },
        Case {
            name: "a verified contact address",
            kind: EmailKind::Contact,
            billing: None,
            verified: true,
            expected: Err("contact e-mail address of organisation 'acme' is verified already"),
        },
        Case {
            name: "a verified billing address",
            kind: EmailKind::Billing,
            billing: Some("pay@acme.example"),
            verified: true,
            expected: Err("emailType: the address is verified already"),
        },
    ];
    for case in cases {
        let mut access = access();
        access.organisation.billing_email = case.billing.map(email);
        if case.verified {
            match case.kind {
                EmailKind::Contact => {
                    access.organisation.verification.contact_email_verified_at = Some(now())
                }
                EmailKind::Billing => {
                    access.organisation.verification.billing_email_verified_at = Some(now())
                }
            }
        }
        let result = unverified_address(&access, case.kind).map(|e| e.as_str().to_owned());
        match case.expected {
            Ok(address) => assert_eq!(result.as_deref(), Ok(address), "{}", case.name),
            Err(says) => assert_rejected(case.name, &result, "invalid", says),
        }
    }
}

#[test]
fn a_resend_replaces_the_code_under_the_mail_limits() {
    struct Case {
        name: &'static str,
        old_code: bool,
        /// Seconds since each earlier mail of the organisation to the contact address.
        sent_ago: Vec<i64>,
        /// Seconds since each earlier mail of the organisation to its other addresses.
        others_ago: Vec<i64>,
        limits: Limits,
        /// Ok: the writes; Err: the seconds to wait.
        expected: Result<Vec<&'static str>, u64>,
    }
    const REMOVE_OLD: &str = "remove EmailCode if Anything else retry";
    const NEW: &str = "put EmailCode if Absent else retry";
    const COUNT: &str = "count AddressMail if Anything else refuse AddressMailCap";
    const TO: &str = "ops@acme.example";
    let base = || Case {
        name: "",
        old_code: true,
        sent_ago: vec![],
        others_ago: vec![],
        limits: Limits::default(),
        expected: Ok(vec![REMOVE_OLD, NEW, COUNT]),
    };
    let cases = [
        Case {
            name: "a first resend",
            ..base()
        },
        Case {
            name: "no code to replace",
            old_code: false,
            expected: Ok(vec![NEW, COUNT]),
            ..base()
        },
        Case {
            name: "the last mail exactly a minute ago",
            sent_ago: vec![60],
            ..base()
        },
        Case {
            name: "the last mail 59 seconds ago",
            sent_ago: vec![59],
            expected: Err(1),
            ..base()
        },
        Case {
            name: "the last mail just now",
            sent_ago: vec![0],
            expected: Err(60),
            ..base()
        },
        Case {
            name: "a mail to another address just now does not hold it up",
            others_ago: vec![0],
            ..base()
        },
        Case {
            name: "four mails in the hour",
            sent_ago: vec![3000, 2000, 1000, 100],
            ..base()
        },
        Case {
            name: "five mails in the hour: the oldest leaves the window in 10 minutes",
            sent_ago: vec![3000, 2500, 2000, 1000, 100],
            expected: Err(600),
            ..base()
        },
        Case {
            name: "five mails, the oldest exactly an hour ago: four in the hour",
            sent_ago: vec![3600, 2500, 2000, 1000, 100],
            ..base()
        },
        Case {
            name: "the address had its share from all organisations: until the next clock hour",
            limits: limits(200, 10, true),
            expected: Err(3600),
            ..base()
        },
        Case {
            name: "one below the daily budget",
            others_ago: vec![7200, 3600],
            limits: limits(3, 10, false),
            ..base()
        },
        Case {
            name: "the daily budget spent: the oldest leaves the day in 21 hours",
            sent_ago: vec![7200],
            others_ago: vec![10_800, 3600],
            limits: limits(3, 10, false),
            expected: Err(21 * 3600),
            ..base()
        },
        Case {
            name: "the oldest mail exactly a day ago no longer counts",
            others_ago: vec![86_400, 3600, 120],
            limits: limits(3, 10, false),
            ..base()
        },
    ];
    for case in cases {
        let name = case.name;
        let mut access = access();
        access.organisation.revision = 3;
        if case.old_code {
            access.organisation.verification.contact_code_hash = Some("old-hash".into());
        }
        let ago = |s: &i64| Duration::seconds(*s);
        let sent: Vec<(&str, Duration)> = case
            .sent_ago
            .iter()
            .map(|s| (TO, ago(s)))
            .chain(case.others_ago.iter().map(|s| ("x@acme.example", ago(s))))
            .collect();
        access.organisation.mails_sent = mails_sent(&sent);
        let result = resend(&access, EmailKind::Contact, case.limits, now());
        match (case.expected, result) {
            (
                Err(wait),
                Err(Rejection::TooMany {
                    retry_after_seconds,
                    ..
                }),
            ) => {
                assert_eq!(retry_after_seconds, wait, "{name}: Retry-After");
            }
            (Ok(writes), Ok(decision)) => {
                let change = decision.change.expect("a change");
                let (after, read) = updated(&change);
                assert_eq!(
                    (read, after.revision),
                    (3, 3),
                    "{name}: no client sees a new code: same revision"
                );
                assert!(change.activity.is_none(), "{name}: no activity event");
                assert_eq!(shapes(&change), writes, "{name}: writes");
                assert_eq!(
                    after.verification.contact_code_hash.as_deref(),
                    Some(decision.outcome.record.code_hash.as_str()),
                    "{name}: the profile names the new code"
                );
                assert_eq!(decision.outcome.record.email.as_str(), TO, "{name}");
                assert_eq!(
                    counters(&change),
                    [&counter(TO)],
                    "{name}: the address's counter of this hour"
                );
                assert_eq!(
                    after.mails_sent.0.last(),
                    Some(&SentMail {
                        to: address_hash(&email(TO)),
                        at: now()
                    }),
                    "{name}: the profile records the mail"
                );
                assert!(
                    after
                        .mails_sent
                        .0
                        .iter()
                        .all(|m| m.at > now() - Duration::hours(24)),
                    "{name}: mails older than a day forgotten"
                );
                assert!(matches!(change.profile, Profile::Update(_)), "{name}");
            }
            (expected, actual) => panic!("{name}: expected {expected:?}, got {actual:?}"),
        }
    }
}
