//! Verification: the legal entity, e-mail codes (and their resend), VIES answers.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::domain::activity::{
    ActivityEvent, ActivityType, Actor, ActorType, DetailType, Outbound,
};
use crate::domain::authorisation::Access;
use crate::domain::budgets::{
    AddressMailCounter, MAILS_PER_ADDRESS_PER_HOUR, MAILS_PER_ADDRESS_PER_ORGANISATION_PER_HOUR,
};
use crate::domain::change::{Change, Decision, Expect, Record, RecordKey, Refusal, Write};
use crate::domain::input::{Field, RequestBody};
use crate::domain::organisation::Organisation;
use crate::domain::vat::VatNumber;
use crate::domain::verification::{address_hash, EmailCode};
use crate::domain::verification::{normalise_entity_text, EmailChallenge, EmailKind, ViesAnswer};
use crate::domain::{Email, FieldError, Rejection};
use serde::Deserialize;

/// Confirms the legal entity name and/or address VIES holds for the VAT number (admins).
pub fn confirm_legal_entity(
    access: &Access,
    name: Option<&str>,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Decision<Organisation>, Rejection> {
    let mut organisation = access.organisation.clone();
    // `vatCodeValidated` follows VIES's last definite answer; a later "could not check" leaves
    // that answer, and the registry's name and address, standing.
    if !organisation.vat_code_validated {
        return Err(Rejection::invalid(
            "VIES has not confirmed this organisation's VAT number, so there is no legal entity to confirm.",
        ));
    }
    let v = &mut organisation.verification;
    let mut mismatches = Vec::new();
    for (submitted, registry, verified_at, field) in [
        (
            name,
            &v.vat_legal_entity_name,
            &mut v.vat_legal_entity_name_verified_at,
            "vatLegalEntityName",
        ),
        (
            address,
            &v.vat_legal_entity_address,
            &mut v.vat_legal_entity_address_verified_at,
            "vatLegalEntityAddress",
        ),
    ] {
        let Some(submitted) = submitted else { continue };
        match registry {
            Some(registry)
                if normalise_entity_text(registry) == normalise_entity_text(submitted) =>
            {
                *verified_at = Some(now);
            }
            Some(_) => mismatches.push(FieldError::new(
                field,
                "does not match what VIES holds for this VAT number",
            )),
            None => mismatches.push(FieldError::new(
                field,
                "VIES holds no value to compare with",
            )),
        }
    }
    if !mismatches.is_empty() {
        return Err(Rejection::Invalid {
            message: "The legal entity does not match the VAT registry.".into(),
            details: mismatches.iter().map(ToString::to_string).collect(),
        });
    }
    let actor = Actor::user(&access.caller);
    let confirmed: Vec<&str> = [name.map(|_| "name"), address.map(|_| "address")]
        .into_iter()
        .flatten()
        .collect();
    let event = ActivityEvent::new(
        ActivityType::VatLegalEntityConfirmed,
        actor.clone(),
        format!(
            "{} confirmed the VAT legal entity's {}",
            actor.display_name(),
            confirmed.join(" and ")
        ),
        now,
    );
    let change = Change::update(&access.organisation, organisation, event);
    let organisation = change.profile_after(&access.organisation);
    Ok(Decision::write(change, organisation))
}

/// Marks the address `code` verifies as verified and uses the code up. The address must still
/// be the organisation's.
pub fn verify_email(
    organisation: &Organisation,
    code: &EmailCode,
    now: DateTime<Utc>,
) -> Result<Change, Rejection> {
    let current = match code.kind {
        EmailKind::Contact => Some(&organisation.contact_email),
        EmailKind::Billing => organisation.billing_email.as_ref(),
    };
    if current.map(Email::key) != Some(code.email.key()) {
        return Err(Rejection::invalid(format!(
            "The organisation's {} e-mail address is no longer {}; this code verifies nothing.",
            code.kind.describe(),
            code.email
        )));
    }
    // The address is the organisation's, but the code is not its last one for it: a code of an
    // organisation deleted since, whose slug a new one took (codes live outside the partition,
    // so the sweep does not remove them; they expire after 24 hours).
    if organisation.verification.code_hash(code.kind) != Some(code.code_hash.as_str()) {
        return Err(Rejection::NotFound(
            "The organisation of this code no longer exists.".into(),
        ));
    }
    let before = organisation;
    let mut organisation = organisation.clone();
    match code.kind {
        EmailKind::Contact => organisation.verification.contact_email_verified_at = Some(now),
        EmailKind::Billing => organisation.verification.billing_email_verified_at = Some(now),
    }
    let actor = Actor {
        actor_type: ActorType::User,
        subject: None,
        username: None,
        email: Some(code.email.as_str().to_owned()),
    };
    let outbound = Outbound::new(&organisation, &actor, now).event(
        DetailType::EmailVerified,
        serde_json::json!({"emailKind": code.kind, "email": code.email}),
    );
    let event = ActivityEvent::new(
        ActivityType::EmailVerified,
        actor,
        format!(
            "{} was verified as the {} e-mail address",
            code.email,
            code.kind.describe()
        ),
        now,
    )
    .with_outbound(outbound);
    // The code is kept, marked used, until its expiry: opening the link again (mail scanners
    // fetch links before people click them) answers "already verified", not "unknown".
    let used = EmailCode {
        used_at: Some(now),
        ..code.clone()
    };
    Ok(Change::update(before, organisation, event)
        .with(Write::put(Record::EmailCode(used), Expect::Unused).or_refuse(Refusal::CodeUsed)))
}

/// Records VIES's answer on the scheduled re-validation; a changed status is an activity event
/// of the platform. `None` when the organisation no longer has this VAT number (a change of
/// number scheduled its own check). The decision says whether the status changed.
pub fn record_vies_answer(
    organisation: &Organisation,
    vat: &VatNumber,
    answer: &ViesAnswer,
    now: DateTime<Utc>,
) -> Option<Decision<bool>> {
    if organisation.vat_code.as_deref() != Some(vat.as_string().as_str()) {
        return None;
    }
    let mut next = organisation.clone();
    let before = next.verification.vat_status;
    let changed = next.record_vies_answer(answer, now);
    let activity = changed.then(|| {
        let after = next.verification.vat_status.map_or("none", |s| s.as_str());
        ActivityEvent::new(
            ActivityType::VatStatusChanged,
            Actor::system(),
            format!(
                "VAT number {vat} is now {after} (was {}): {}",
                before.map_or("none", |s| s.as_str()),
                answer.describe()
            ),
            now,
        )
        .with_outbound(
            Outbound::new(&next, &Actor::system(), now)
                .vat_status_change(Some(organisation), &next),
        )
    });
    Some(Decision::write(
        Change::update_or_rewrite(organisation, next, activity),
        changed,
    ))
}

// Resending an address's verification mail (`POST .../validation-status/email/resend`): a
// new code replaces the current one.
//
// The decision rests on one read: the organisation (with the caller's access), whose profile
// records the mails it sent (domain::budgets). It refuses when the address is verified already
// (400), when this organisation mailed it less than [`RESEND_INTERVAL`] ago or
// `MAILS_PER_ADDRESS_PER_ORGANISATION_PER_HOUR` times in the last hour, when the organisation
// spent its daily budget, or when the address had its hourly share from all organisations (the
// counter refused the first attempt): 429 with the seconds to wait. Otherwise one change: the
// profile records the new code's hash and the mail (at the same revision: nothing a client sees
// changes, so no activity event), the old code's record goes, the new one is inserted, and the
// address's counter is `ADD`ed to. A concurrent resend makes the loser read and decide again,
// so the rules hold under races and the mail is counted exactly once. The code is mailed after
// the commit.

/// At most one resend per address in this interval (counting any verification mail to it).
pub const RESEND_INTERVAL: Duration = Duration::seconds(60);

/// The body of `POST .../validation-status/email/resend` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ResendBody {
    pub email_type: Field<EmailKind>,
}

impl RequestBody for ResendBody {
    const FIELDS: &'static [&'static str] = &["emailType"];
}

impl TryFrom<ResendBody> for EmailKind {
    type Error = Vec<FieldError>;

    fn try_from(body: ResendBody) -> Result<Self, Self::Error> {
        match body.email_type {
            Field::Value(kind) => Ok(kind),
            Field::Absent | Field::Null => Err(vec![FieldError::new("emailType", "is required")]),
            Field::Invalid(_) => Err(vec![FieldError::new(
                "emailType",
                "must be CONTACT or BILLING",
            )]),
        }
    }
}

/// The address a resend of `kind` goes to: 400 when the organisation has none of that kind
/// (no billing address) or when it is verified already.
pub fn unverified_address(
    access: &Access,
    kind: EmailKind,
) -> Result<&crate::domain::Email, Rejection> {
    let organisation = &access.organisation;
    let email = organisation
        .email_of(kind)
        .ok_or_else(|| Rejection::Invalid {
            message: format!(
                "Organisation '{}' has no {} e-mail address.",
                organisation.slug,
                kind.describe()
            ),
            details: vec![
                FieldError::new("emailType", "the organisation has no such address").to_string(),
            ],
        })?;
    if organisation.verification.verified_at(kind).is_some() {
        return Err(Rejection::Invalid {
            message: format!(
                "The {} e-mail address of organisation '{}' is verified already.",
                kind.describe(),
                organisation.slug
            ),
            details: vec![
                FieldError::new("emailType", "the address is verified already").to_string(),
            ],
        });
    }
    Ok(email)
}

/// Resends the verification code of the address of `kind`: `log` is the mail log of that
/// address ([`unverified_address`]). The outcome is the challenge to mail once the change is
/// written.
pub fn resend(
    access: &Access,
    kind: EmailKind,
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<Decision<EmailChallenge>, Rejection> {
    let email = unverified_address(access, kind)?;
    let organisation = &access.organisation;
    let to = address_hash(email);
    let (_, last) = organisation.mails_sent.to_address(&to, now);
    if let Some(wait) = last.map(|last| last + RESEND_INTERVAL - now) {
        if wait > Duration::zero() {
            return Err(too_many(
                "A verification mail went to this address less than 60 seconds ago.",
                wait,
            ));
        }
    }
    if let Some(frees_at) = organisation.mails_sent.address_frees_at(&to, now) {
        return Err(too_many(
            &format!(
                "This organisation sent {MAILS_PER_ADDRESS_PER_ORGANISATION_PER_HOUR} mails to \
                 this address in the last hour."
            ),
            frees_at - now,
        ));
    }
    if limits.address_capped {
        return Err(Rejection::TooMany {
            message: format!(
                "This address had {MAILS_PER_ADDRESS_PER_HOUR} mails this hour; try again later."
            ),
            retry_after_seconds: AddressMailCounter::retry_after(now),
        });
    }
    let challenge = EmailChallenge::new(&organisation.slug, kind, email, now);
    let mut next = organisation.clone();
    next.verification.issued(&challenge);
    // Not suppressed (checked above): the mail is counted, or the budget refuses it.
    let counted = match count_mail(&mut next, email, limits, now)? {
        MailCount::Send(write) => Some(write),
        MailCount::Suppress => None,
    };
    let replaced = organisation
        .verification
        .code_hash(kind)
        .map(|old| Write::remove(RecordKey::EmailCode(old.to_owned()), Expect::Anything));
    let change = Change::rewrite(organisation, next)
        .with_all(replaced)
        .with(Write::insert(Record::EmailCode(challenge.record.clone())))
        .with_all(counted);
    Ok(Decision::write(change, challenge))
}

/// 429, with the wait rounded up to whole seconds (at least one).
pub(crate) fn too_many(message: &str, wait: Duration) -> Rejection {
    let millis = wait.num_milliseconds().max(1);
    let seconds = u64::try_from((millis + 999) / 1000).unwrap_or(1);
    Rejection::TooMany {
        message: format!("{message} Try again in {seconds} seconds."),
        retry_after_seconds: seconds,
    }
}

#[cfg(test)]
mod resend_tests {
    use super::*;
    use crate::domain::authorisation::Access;
    use crate::domain::budgets::SentMail;
    use crate::domain::change::{IfNot, Operation, Profile};

    /// The organisation mailed its contact address that long ago.
    fn sent(access: &mut Access, ages: &[Duration], now: DateTime<Utc>) {
        let to = address_hash(&access.organisation.contact_email);
        access.organisation.mails_sent.0 = ages
            .iter()
            .map(|age| SentMail {
                to: to.clone(),
                at: now - *age,
            })
            .collect();
    }

    fn access() -> Access {
        use crate::domain::member::{KubernetesRole, Member, Role};
        use crate::domain::{Caller, Email, Subject};
        let mut organisation = crate::domain::organisation::tests_support::organisation();
        organisation.verification.contact_code_hash = Some("old".into());
        Access {
            caller: Caller {
                subject: Subject::parse("alice").unwrap(),
                email: Some(Email::parse("e", "alice@example.com").unwrap()),
                email_verified: true,
                username: Some("alice".into()),
                operator: false,
            },
            organisation,
            member: Member {
                identity: uuid::Uuid::new_v4(),
                email: None,
                username: None,
                role: Role::Admin,
                kubernetes_role: KubernetesRole::None,
                subject: Subject::parse("alice"),
                joined_at: Utc::now(),
                invitation: None,
            },
            ledger: Default::default(),
            quota_overrides: Default::default(),
            target_member: None,
            members: Vec::new(),
        }
    }

    #[test]
    fn a_resend_replaces_the_code_and_counts_the_mail() {
        let access = access();
        let now = Utc::now();
        let decision = resend(&access, EmailKind::Contact, Limits::default(), now).unwrap();
        let change = decision.change.unwrap();
        let Profile::Update(update) = &change.profile else {
            panic!("an update");
        };
        assert_eq!(update.read_revision(), access.organisation.revision);
        assert_eq!(update.organisation().revision, access.organisation.revision);
        assert_eq!(
            update
                .organisation()
                .verification
                .contact_code_hash
                .as_deref(),
            Some(decision.outcome.record.code_hash.as_str())
        );
        assert!(change.activity.is_none());
        let old = &access.organisation.verification.contact_code_hash;
        assert!(change.writes.iter().any(|w| matches!(
            &w.operation,
            Operation::Remove(RecordKey::EmailCode(h)) if Some(h) == old.as_ref()
        )));
        let to = address_hash(&access.organisation.contact_email);
        let counter = AddressMailCounter::new(&to, now);
        assert!(change
            .writes
            .iter()
            .any(|w| w.operation == Operation::CountMail(counter.clone())
                && w.if_not == IfNot::Refuse(Refusal::AddressMailCap)));
        assert_eq!(
            update.organisation().mails_sent.0,
            [SentMail { to, at: now }],
            "the profile records the mail"
        );
    }

    #[test]
    fn a_resend_waits_a_minute_and_respects_the_hourly_caps() {
        let now = Utc::now();
        let mut recent = access();
        sent(&mut recent, &[Duration::seconds(20)], now);
        match resend(&recent, EmailKind::Contact, Limits::default(), now) {
            Err(Rejection::TooMany {
                retry_after_seconds,
                ..
            }) => assert_eq!(retry_after_seconds, 40),
            other => panic!("{other:?}"),
        }
        let mut full = access();
        let ages: Vec<Duration> = (1..=5).map(|m| Duration::minutes(m * 5)).collect();
        sent(&mut full, &ages, now);
        match resend(&full, EmailKind::Contact, Limits::default(), now) {
            Err(Rejection::TooMany {
                retry_after_seconds,
                ..
            }) => assert_eq!(retry_after_seconds, 35 * 60),
            other => panic!("{other:?}"),
        }
        let capped = Limits {
            address_capped: true,
            ..Limits::default()
        };
        match resend(&access(), EmailKind::Contact, capped, now) {
            Err(Rejection::TooMany {
                retry_after_seconds,
                ..
            }) => assert_eq!(
                retry_after_seconds,
                AddressMailCounter::retry_after(now),
                "until the next clock hour"
            ),
            other => panic!("{other:?}"),
        }
        let mut older = access();
        sent(&mut older, &[Duration::seconds(61)], now);
        assert!(resend(&older, EmailKind::Contact, Limits::default(), now).is_ok());
    }

    #[test]
    fn verified_or_missing_addresses_are_refused() {
        let mut access = access();
        let now = Utc::now();
        assert!(matches!(
            resend(&access, EmailKind::Billing, Limits::default(), now),
            Err(Rejection::Invalid { .. })
        ));
        access.organisation.verification.contact_email_verified_at = Some(now);
        assert!(matches!(
            resend(&access, EmailKind::Contact, Limits::default(), now),
            Err(Rejection::Invalid { .. })
        ));
    }

    #[test]
    fn the_body_names_the_address_kind() {
        let parse = |json: serde_json::Value| {
            EmailKind::try_from(serde_json::from_value::<ResendBody>(json).unwrap())
        };
        assert_eq!(
            parse(serde_json::json!({"emailType": "BILLING"})),
            Ok(EmailKind::Billing)
        );
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"emailType": null}),
            serde_json::json!({"emailType": "contact"}),
            serde_json::json!({"emailType": 1}),
        ] {
            let errors = parse(bad).unwrap_err();
            assert_eq!(errors[0].field, "emailType");
        }
    }
}

#[cfg(test)]
#[path = "verification_tests.rs"]
mod table_tests;
