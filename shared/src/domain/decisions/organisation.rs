//! Organisations: create, PATCH, delete, and the limits on creating them.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::domain::activity::{ActivityEvent, ActivityType, Actor};
use crate::domain::authorisation::Access;
use crate::domain::budgets::{count_vat_change, AddressMailCounter, Budgets};
use crate::domain::change::{
    member_writes, Change, Decision, Expect, Profile, Record, RecordKey, Refusal, Write,
};
use crate::domain::member::{KubernetesRole, Member, Role};
use crate::domain::organisation::{
    NewOrganisation, Organisation, OrganisationField, OrganisationPatch, OrganisationType,
};
use crate::domain::outbound::*;
use crate::domain::records::{
    take_slot, CreationLog, DeletionRecord, IdentityLookup, Registration,
};
use crate::domain::vat::VatNumber;
use crate::domain::verification::{
    address_hash, EmailChallenge, EmailKind, Verification, ViesAnswer,
};
use crate::domain::{Caller, Email, FieldError, Rejection, Slug};

/// How long the record of a deleted organisation is kept.
pub const DELETION_RECORD_DAYS: i64 = 400;

/// A new organisation: the change that creates it and what is mailed after.
#[derive(Debug, Clone)]
pub struct Created {
    pub change: Change,
    pub organisation: Organisation,
    /// The verification mail to send after the commit; `None` when it is suppressed.
    pub mail: Option<EmailChallenge>,
}

/// Identities chosen once per request, so that a retried create is the same organisation.
#[derive(Debug, Clone, Copy)]
pub struct NewIdentities {
    pub organisation: Uuid,
    pub admin: Uuid,
}

/// How many organisations one user may create (creates plus registrations) per 24 hours,
/// unless configured otherwise (`MAX_ORGANISATIONS_PER_USER_PER_DAY`).
pub const DEFAULT_ORGANISATIONS_PER_USER_PER_DAY: usize = 10;

/// The types a customer may choose: every type but `ENTERPRISE`, which platform operators set.
pub fn customer_may_choose(kind: OrganisationType) -> Result<(), Rejection> {
    if kind == OrganisationType::Enterprise {
        return Err(Rejection::Forbidden(
            "Only platform operators set the organisation type ENTERPRISE.".to_owned(),
        ));
    }
    Ok(())
}

/// A customer's change of type: `TRIAL` is only a start (never a destination), leaving it
/// needs a valid payment method, `ENTERPRISE` is the operators' to give and to take.
pub fn customer_may_change_type(
    from: OrganisationType,
    to: OrganisationType,
    payment_method_attached: bool,
) -> Result<(), Rejection> {
    use OrganisationType::{Enterprise, Trial};
    if from == to {
        return Ok(());
    }
    if from == Enterprise || to == Enterprise {
        return Err(Rejection::Forbidden(
            "Only platform operators set or change the organisation type ENTERPRISE.".to_owned(),
        ));
    }
    if to == Trial {
        return Err(Rejection::fields(vec![FieldError::new(
            "organisationType",
            "cannot become TRIAL again: a trial is only a start",
        )]));
    }
    if from == Trial && !payment_method_attached {
        return Err(Rejection::fields(vec![FieldError::new(
            "organisationType",
            "leaving TRIAL needs a valid payment method attached to the organisation",
        )]));
    }
    Ok(())
}

/// The caller's creation log with this create in it, or 429 when the caller created `limit`
/// organisations in the last 24 hours.
pub(crate) fn count_creation(
    log: &CreationLog,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Write, Rejection> {
    let created_at = take_slot(&log.created_at, now, Duration::hours(24), limit).map_err(
        |retry_after_seconds| Rejection::TooMany {
            message: format!(
                "You have created {limit} organisations in the last 24 hours; try again later."
            ),
            retry_after_seconds,
        },
    )?;
    let read = (log.version > 0).then_some(log.version);
    Ok(Write::put(
        Record::CreationLog(CreationLog {
            subject: log.subject.clone(),
            created_at,
            version: log.version + 1,
        }),
        Expect::Version(read),
    ))
}

/// The budgets a change is held to (mails, VAT number changes), and whether the address's
/// hourly mail counter across organisations was found full (the change is then decided again
/// with this set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub budgets: Budgets,
    pub address_capped: bool,
}

impl Limits {
    /// The configured `budgets`; the address's counter not (yet) found full.
    pub fn new(budgets: Budgets) -> Self {
        Self {
            budgets,
            address_capped: false,
        }
    }
}

/// What a mail comes to in a change.
#[derive(Debug, Clone, PartialEq)]
pub enum MailCount {
    /// Send it: the counter's write goes into the change (and the mail into `organisation`'s
    /// record of mails).
    Send(Write),
    /// Do not send it: the address had its hourly share from this organisation, or from all.
    Suppress,
}

/// Counts a mail from `organisation` (the profile as the change writes it) to `email`: 429 when
/// the organisation spent its daily budget; [`MailCount::Suppress`] when the address had its
/// hourly share from this organisation or from all; else the mail is recorded in the profile
/// and counted on the address's counter.
pub fn count_mail(
    organisation: &mut Organisation,
    email: &Email,
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<MailCount, Rejection> {
    organisation
        .mails_sent
        .within_budget(limits.budgets.mails_per_organisation_per_day, now)?;
    let to = address_hash(email);
    if limits.address_capped || organisation.mails_sent.address_frees_at(&to, now).is_some() {
        return Ok(MailCount::Suppress);
    }
    organisation.mails_sent.record(&to, now);
    Ok(MailCount::Send(Write::count_mail(AddressMailCounter::new(
        &to, now,
    ))))
}

/// The parameters of a new organisation's creation.
#[derive(Debug, Clone, Copy)]
pub struct Creation<'a> {
    pub ids: NewIdentities,
    pub vies: Option<&'a ViesAnswer>,
    pub registration: bool,
    /// Creates per caller per 24 hours.
    pub limit: usize,
    pub limits: Limits,
}

/// Creates `new` under `slug` with the caller as its first admin, counted in the caller's
/// creation `log`. With `registration`, the caller's one sign-up is recorded in the same
/// change.
pub fn create_organisation(
    new: &NewOrganisation,
    caller: &Caller,
    slug: Slug,
    how: Creation<'_>,
    log: &CreationLog,
    now: DateTime<Utc>,
) -> Result<Created, Rejection> {
    customer_may_choose(new.organisation_type)?;
    let counted_creation = count_creation(log, how.limit, now)?;
    let Creation {
        ids,
        vies,
        registration,
        ..
    } = how;
    let mut organisation = Organisation {
        identity: ids.organisation,
        slug: slug.clone(),
        name: new.name.clone(),
        organisation_type: new.organisation_type,
        contact_email: new.contact_email.clone(),
        billing_email: None,
        company_name: new.company_name.clone(),
        company_address: new.company_address.clone(),
        phone_number: None,
        vat_code: None,
        vat_code_validated: false,
        vat_code_validated_at: None,
        accepted_terms: true,
        accepted_terms_at: Some(now),
        accepted_agreements: new.accepted_agreements.clone(),
        restricted_to_available_cloud_providers: new.organisation_type == OrganisationType::Trial,
        restricted_override: None,
        created_at: now,
        revision: 1,
        admin_count: 1,
        verification: Verification::default(),
        vat_next_check_at: None,
        profile_writes: 0,
        mails_sent: Default::default(),
        vat_changes: Vec::new(),
    };
    organisation.set_vat_number(new.vat_number.as_ref(), now);
    if let Some(answer) = vies {
        organisation.record_vies_answer(answer, now);
    }
    let admin = Member {
        identity: ids.admin,
        email: caller.verified_email().cloned(),
        username: caller.username.clone(),
        role: Role::Admin,
        kubernetes_role: KubernetesRole::ClusterAdmin,
        subject: Some(caller.subject.clone()),
        joined_at: now,
        invitation: None,
    };
    let actor = Actor::user(caller);
    let mut message = format!(
        "{} created organisation {} ({slug})",
        actor.display_name(),
        organisation.name.as_str()
    );
    if let Some(answer) = vies {
        message.push_str(&format!("; {}", answer.describe()));
    }
    let challenge = EmailChallenge::new(&slug, EmailKind::Contact, &new.contact_email, now);
    organisation.verification.issued(&challenge);
    let counted = count_mail(&mut organisation, &new.contact_email, how.limits, now)?;
    let outbound = created_outbound(&organisation, &actor, registration, now);
    let mut change = Change {
        slug: slug.clone(),
        profile: Profile::Create(organisation.clone()),
        activity: Some(
            ActivityEvent::new(ActivityType::OrganisationCreated, actor, message, now)
                .with_outbound(outbound),
        ),
        writes: vec![Write::insert(Record::OrganisationIdentity(
            IdentityLookup {
                identity: ids.organisation,
                slug: slug.clone(),
            },
        ))],
        ledger: None,
    }
    .with_all(member_writes(&admin))
    .with(Write::insert(Record::EmailCode(challenge.record.clone())))
    .with(counted_creation);
    let mail = match counted {
        MailCount::Send(write) => {
            change = change.with(write);
            Some(challenge)
        }
        MailCount::Suppress => None,
    };
    if registration {
        change = change.with(
            Write::insert(Record::Registration(Registration {
                subject: caller.subject.clone(),
                slug,
            }))
            .or_refuse(Refusal::AlreadyRegistered),
        );
    }
    Ok(Created {
        change,
        organisation,
        mail,
    })
}

/// Why a PATCH was not decided: a rule refused it, or the VAT number changes and VIES has not
/// been asked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchBlocked {
    Rejected(Rejection),
    AskVies(VatNumber),
}

/// What a PATCH leaves: the organisation, and the challenges to mail for changed addresses.
#[derive(Debug, Clone)]
pub struct Updated {
    pub organisation: Organisation,
    /// The verification mails to send after the commit.
    pub challenges: Vec<EmailChallenge>,
    /// Verification codes issued whose mail is suppressed (the address had its share).
    pub suppressed: usize,
}

/// Applies `patch` by a customer (the type rules of [`customer_may_change_type`]; the ledger
/// must have been read). A changed VAT number is checked with VIES when `vies` can answer: the
/// first decision returns [`PatchBlocked::AskVies`], the caller asks and decides again.
pub fn update_organisation(
    access: &Access,
    patch: &OrganisationPatch,
    vies: ViesLookup<'_>,
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<Decision<Updated>, PatchBlocked> {
    if let Some(to) = patch.organisation_type {
        customer_may_change_type(
            access.organisation.organisation_type,
            to,
            access.ledger.payment_method_attached_at.is_some(),
        )
        .map_err(PatchBlocked::Rejected)?;
    }
    let mut organisation = access.organisation.clone();
    let changed = patch.apply(&mut organisation, now);
    if changed.is_empty() {
        return Ok(Decision::nothing(Updated {
            organisation,
            challenges: Vec::new(),
            suppressed: 0,
        }));
    }
    let actor = Actor::user(&access.caller);
    let names: Vec<&str> = changed.iter().map(|f| f.wire_name()).collect();
    let mut message = format!("{} changed {}", actor.display_name(), names.join(", "));
    // The budgets first: a refused change calls no VIES.
    let mails = issue_challenges(&mut organisation, &changed, limits, now)
        .map_err(PatchBlocked::Rejected)?;
    if changed.contains(&OrganisationField::VatNumber) {
        organisation.vat_changes = count_vat_change(
            &organisation.vat_changes,
            limits.budgets.vat_changes_per_organisation_per_day,
            now,
        )
        .map_err(PatchBlocked::Rejected)?;
        let new_number = patch.vat_number.clone().flatten();
        match (new_number, vies) {
            (Some(vat), ViesLookup::NotAsked) => return Err(PatchBlocked::AskVies(vat)),
            (Some(_), ViesLookup::Answered(answer)) => {
                organisation.record_vies_answer(answer, now);
                message.push_str(&format!("; {}", answer.describe()));
            }
            _ => {}
        }
    }
    let outbound = updated_outbound(&access.organisation, &organisation, &changed, &actor, now);
    let event = ActivityEvent::new(ActivityType::OrganisationUpdated, actor, message, now)
        .with_outbound(outbound);
    let change = Change::update(&access.organisation, organisation, event)
        .with_all(
            mails
                .issued
                .iter()
                .map(|c| Write::insert(Record::EmailCode(c.record.clone()))),
        )
        .with_all(mails.counted);
    let organisation = change.profile_after(&access.organisation);
    Ok(Decision::write(
        change,
        Updated {
            organisation,
            challenges: mails.to_mail,
            suppressed: mails.suppressed,
        },
    ))
}

/// The verification codes a PATCH issues, and which of them are mailed.
struct PatchMails {
    issued: Vec<EmailChallenge>,
    to_mail: Vec<EmailChallenge>,
    counted: Vec<Write>,
    suppressed: usize,
}

/// A code for each changed address, recorded in `organisation` and counted against the
/// budgets (429 when the organisation's daily budget is spent).
fn issue_challenges(
    organisation: &mut Organisation,
    changed: &[OrganisationField],
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<PatchMails, Rejection> {
    let mut addresses = Vec::new();
    if changed.contains(&OrganisationField::ContactEmail) {
        addresses.push((EmailKind::Contact, organisation.contact_email.clone()));
    }
    if let (true, Some(billing)) = (
        changed.contains(&OrganisationField::BillingEmail),
        &organisation.billing_email,
    ) {
        addresses.push((EmailKind::Billing, billing.clone()));
    }
    let mut mails = PatchMails {
        issued: Vec::new(),
        to_mail: Vec::new(),
        counted: Vec::new(),
        suppressed: 0,
    };
    for (kind, email) in addresses {
        let challenge = EmailChallenge::new(&organisation.slug, kind, &email, now);
        organisation.verification.issued(&challenge);
        match count_mail(organisation, &email, limits, now)? {
            MailCount::Send(write) => {
                mails.counted.push(write);
                mails.to_mail.push(challenge.clone());
            }
            MailCount::Suppress => mails.suppressed += 1,
        }
        mails.issued.push(challenge);
    }
    Ok(mails)
}

/// What is known of VIES's answer for a PATCH's new VAT number.
#[derive(Debug, Clone, Copy)]
pub enum ViesLookup<'a> {
    /// VIES is not configured: the number stays `PENDING` until the scheduled check.
    Unavailable,
    NotAsked,
    Answered(&'a ViesAnswer),
}

/// Deletes the organisation `identity` names: only while no cluster, cloud account or
/// monitoring tenant is active (the ledger is checked again in the transaction). The partition
/// is marked for sweeping, which keeps the slug reserved until it is empty.
pub fn delete_organisation(
    access: &Access,
    identity: Uuid,
    now: DateTime<Utc>,
) -> Result<Change, Rejection> {
    let organisation = &access.organisation;
    if organisation.identity != identity {
        return Err(Rejection::NotFound(format!(
            "Organisation {identity} does not exist."
        )));
    }
    if let Some(blocker) = access.ledger.delete_blocker() {
        return Err(Rejection::invalid(blocker));
    }
    let record = DeletionRecord {
        identity,
        slug: organisation.slug.clone(),
        name: organisation.name.as_str().to_owned(),
        deleted_by: access.caller.subject.to_string(),
        deleted_at: now,
        expires_at: (now + Duration::days(DELETION_RECORD_DAYS)).timestamp(),
        outbound: Some(Box::new(deleted_outbound(
            organisation,
            &Actor::user(&access.caller),
            now,
        ))),
    };
    // The unused codes it knows of live outside the partition (with the address they verify):
    // they go with the organisation rather than expire a day later.
    let codes = [EmailKind::Contact, EmailKind::Billing]
        .into_iter()
        .filter_map(|kind| organisation.verification.code_hash(kind))
        .map(|hash| Write::remove(RecordKey::EmailCode(hash.to_owned()), Expect::Anything));
    Ok(Change {
        slug: organisation.slug.clone(),
        profile: Profile::Delete {
            read_revision: organisation.revision,
        },
        activity: None,
        writes: vec![
            Write::check(RecordKey::Ledger, Expect::LedgerClear),
            Write::remove(RecordKey::OrganisationIdentity(identity), Expect::Anything),
            Write::put(Record::PurgeMarker { deleted_at: now }, Expect::Anything),
            Write::put(Record::Deletion(record), Expect::Anything),
        ],
        ledger: None,
    }
    .with_all(codes))
}

#[cfg(test)]
#[path = "organisation_tests.rs"]
mod table_tests;
