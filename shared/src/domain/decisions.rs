//! Every change to an organisation, decided on what was read: pure functions from a read state
//! (and the request) to a [`Change`] and what the request answers. Storage reads, calls one of
//! these and writes the change in one transaction (`storage::Store::apply`); a stale read
//! fails the transaction's guard and the decision is taken again on a fresh read.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::access::Access;
use super::activity::{ActivityEvent, ActivityType, Actor, ActorType, DetailType, Outbound};
use super::change::{
    member_writes, Change, Decision, Expect, LedgerUpdate, Profile, Record, RecordKey, Refusal,
    Write,
};
use super::ledger::{LedgerDelta, ResourceLedger, MAX_PAYMENT_METHODS, MAX_RESOURCE_RECORDS};
use super::member::{KubernetesRole, Member, Role};
use super::operator::{overrides_json, OperatorView};
use super::organisation::{
    NewOrganisation, Organisation, OrganisationField, OrganisationPatch, OrganisationType,
};
use super::platform::{PlatformEvent, Resource, ResourceRecord, ResourceState};
use super::quotas::{QuotaOverrides, Quotas};
use super::records::{
    take_slot, CreationLog, DeletionRecord, EmailCode, IdentityLookup, MailLog, Registration,
};
use super::vat::VatNumber;
use super::verification::{
    normalise_entity_text, EmailChallenge, EmailKind, Verification, ViesAnswer,
};
use super::{Caller, Email, FieldError, Rejection, Slug};

/// How long the record of a deleted organisation is kept.
pub const DELETION_RECORD_DAYS: i64 = 400;

// --- organisations -------------------------------------------------------------------------

/// A new organisation: the change that creates it and what is mailed after.
#[derive(Debug, Clone)]
pub struct Created {
    pub change: Change,
    pub organisation: Organisation,
    pub challenge: EmailChallenge,
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

/// Verification mails one address may receive per hour, across all organisations.
pub const MAILS_PER_ADDRESS_PER_HOUR: usize = 5;

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
fn count_creation(log: &CreationLog, limit: usize, now: DateTime<Utc>) -> Result<Write, Rejection> {
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

/// Counts a verification mail to the address of `log`: `true` (send) with the log moved on,
/// or `false` (suppress) when the address had [`MAILS_PER_ADDRESS_PER_HOUR`] in the last hour.
pub fn count_mail(log: &MailLog, slug: &Slug, now: DateTime<Utc>) -> Decision<bool> {
    match take_slot(
        &log.sent_at,
        now,
        Duration::hours(1),
        MAILS_PER_ADDRESS_PER_HOUR,
    ) {
        Err(_) => Decision::nothing(false),
        Ok(sent_at) => {
            let read = (log.version > 0).then_some(log.version);
            let next = MailLog {
                address_hash: log.address_hash.clone(),
                sent_at,
                version: log.version + 1,
                expires_at: (now + Duration::hours(2)).timestamp(),
            };
            Decision::write(
                Change {
                    slug: slug.clone(),
                    profile: Profile::Untouched,
                    activity: None,
                    writes: vec![Write::put(Record::MailLog(next), Expect::Version(read))],
                    ledger: None,
                },
                true,
            )
        }
    }
}

/// The parameters of a new organisation's creation.
#[derive(Debug, Clone, Copy)]
pub struct Creation<'a> {
    pub ids: NewIdentities,
    pub vies: Option<&'a ViesAnswer>,
    pub registration: bool,
    /// Creates per caller per 24 hours.
    pub limit: usize,
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
    let counted = count_creation(log, how.limit, now)?;
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
    .with(counted);
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
        challenge,
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
    pub challenges: Vec<EmailChallenge>,
}

/// Applies `patch` by a customer (the type rules of [`customer_may_change_type`]; the ledger
/// must have been read). A changed VAT number is checked with VIES when `vies` can answer: the
/// first decision returns [`PatchBlocked::AskVies`], the caller asks and decides again.
pub fn update_organisation(
    access: &Access,
    patch: &OrganisationPatch,
    vies: ViesLookup<'_>,
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
    let read_revision = access.organisation.revision;
    let mut organisation = access.organisation.clone();
    let changed = patch.apply(&mut organisation, now);
    if changed.is_empty() {
        return Ok(Decision::nothing(Updated {
            organisation,
            challenges: Vec::new(),
        }));
    }
    let actor = Actor::user(&access.caller);
    let names: Vec<&str> = changed.iter().map(|f| f.wire_name()).collect();
    let mut message = format!("{} changed {}", actor.display_name(), names.join(", "));
    if changed.contains(&OrganisationField::VatNumber) {
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
    let mut challenges = Vec::new();
    if changed.contains(&OrganisationField::ContactEmail) {
        challenges.push(EmailChallenge::new(
            &organisation.slug,
            EmailKind::Contact,
            &organisation.contact_email,
            now,
        ));
    }
    if let (true, Some(billing)) = (
        changed.contains(&OrganisationField::BillingEmail),
        &organisation.billing_email,
    ) {
        challenges.push(EmailChallenge::new(
            &organisation.slug,
            EmailKind::Billing,
            billing,
            now,
        ));
    }
    challenges
        .iter()
        .for_each(|c| organisation.verification.issued(c));
    organisation.revision += 1;
    let outbound = updated_outbound(&access.organisation, &organisation, &changed, &actor, now);
    let event = ActivityEvent::new(ActivityType::OrganisationUpdated, actor, message, now)
        .with_outbound(outbound);
    let change = Change::update(organisation.clone(), read_revision, event).with_all(
        challenges
            .iter()
            .map(|c| Write::insert(Record::EmailCode(c.record.clone()))),
    );
    Ok(Decision::write(
        change,
        Updated {
            organisation,
            challenges,
        },
    ))
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

// --- members -------------------------------------------------------------------------------

/// The profile after a membership change: the next revision, the admin count moved.
pub(crate) fn next_revision(organisation: &Organisation, admin_delta: i64) -> Organisation {
    let mut next = organisation.clone();
    next.revision += 1;
    next.admin_count = u32::try_from(i64::from(next.admin_count) + admin_delta).unwrap_or(0);
    next
}

/// Adds `member` (an invitation: no subject yet). Its e-mail address must not hold another
/// membership ([`Refusal::MemberEmailTaken`]).
pub fn add_member(access: &Access, member: &Member, now: DateTime<Utc>) -> Change {
    let actor = Actor::user(&access.caller);
    let email = member.email.as_ref().map(Email::as_str).unwrap_or_default();
    let event = ActivityEvent::new(
        ActivityType::MemberAdded,
        actor.clone(),
        format!(
            "{} added {email} as {}",
            actor.display_name(),
            member.role.as_str()
        ),
        now,
    );
    // An invitation is not an admin until it is claimed: `admin_count` counts joined admins.
    let admin_delta = i64::from(member.role == Role::Admin && member.subject.is_some());
    let next = next_revision(&access.organisation, admin_delta);
    let event = event.with_outbound(member_outbound(
        &next,
        &actor,
        DetailType::MemberAdded,
        member,
        now,
    ));
    Change::update(next, access.organisation.revision, event).with_all(member_writes(member))
}

/// Removes the member read as [`Access::target_member`], never the last admin.
pub fn remove_member(
    access: &Access,
    identity: Uuid,
    now: DateTime<Utc>,
) -> Result<Change, Rejection> {
    let slug = &access.organisation.slug;
    let member = access.target_member.as_ref().ok_or_else(|| {
        Rejection::NotFound(format!(
            "Member {identity} does not exist in organisation '{slug}'."
        ))
    })?;
    let joined_admin = member.role == Role::Admin && member.subject.is_some();
    if joined_admin && access.organisation.admin_count <= 1 {
        return Err(Rejection::invalid(format!(
            "{} is the last admin of organisation '{slug}'; make another member admin first.",
            member
                .email
                .as_ref()
                .map(Email::as_str)
                .unwrap_or("This member")
        )));
    }
    let actor = Actor::user(&access.caller);
    let removed = member
        .email
        .as_ref()
        .map(Email::as_str)
        .or(member.username.as_deref())
        .unwrap_or("a member");
    let event = ActivityEvent::new(
        ActivityType::MemberRemoved,
        actor.clone(),
        format!(
            "{} removed {removed} ({})",
            actor.display_name(),
            member.role.as_str()
        ),
        now,
    );
    let admin_delta = -i64::from(joined_admin);
    let next = next_revision(&access.organisation, admin_delta);
    let event = event.with_outbound(member_outbound(
        &next,
        &actor,
        DetailType::MemberRemoved,
        member,
        now,
    ));
    let mut change = Change::update(next, access.organisation.revision, event).with(Write::remove(
        RecordKey::Member(member.identity),
        Expect::Present,
    ));
    if let Some(email) = &member.email {
        change = change.with(Write::remove(
            RecordKey::MemberByEmail(email.clone()),
            Expect::Anything,
        ));
    }
    if let Some(subject) = &member.subject {
        change = change.with(Write::remove(
            RecordKey::MemberBySubject(subject.clone()),
            Expect::Anything,
        ));
    }
    Ok(change)
}

/// Binds the invitation `invited` (found by the caller's verified e-mail) to the caller: the
/// first use of an invitation. Returns the change and the bound member.
pub fn claim_invitation(
    organisation: &Organisation,
    caller: &Caller,
    invited: Member,
    now: DateTime<Utc>,
) -> (Change, Member) {
    let bound = Member {
        subject: Some(caller.subject.clone()),
        username: invited.username.clone().or_else(|| caller.username.clone()),
        ..invited
    };
    let actor = Actor::user(caller);
    let event = ActivityEvent::new(
        ActivityType::MemberJoined,
        actor.clone(),
        format!("{} joined as {}", actor.display_name(), bound.role.as_str()),
        now,
    );
    let email = bound
        .email
        .clone()
        .or_else(|| caller.verified_email().cloned());
    let admin_delta = i64::from(bound.role == Role::Admin);
    let next = next_revision(organisation, admin_delta);
    let event = event.with_outbound(member_outbound(
        &next,
        &actor,
        DetailType::MemberJoined,
        &bound,
        now,
    ));
    let mut change = Change::update(next, organisation.revision, event);
    if let Some(email) = email {
        change = change.with(Write::put(
            Record::MemberByEmail(super::records::EmailLookup {
                email,
                member_identity: bound.identity,
                subject: bound.subject.clone(),
            }),
            Expect::Unclaimed,
        ));
    }
    let change = change
        .with(Write::put(Record::Member(bound.clone()), Expect::Present))
        .with(Write::insert(Record::MemberBySubject(bound.clone())));
    (change, bound)
}

// --- verification --------------------------------------------------------------------------

/// Confirms the legal entity name and/or address VIES holds for the VAT number (admins).
pub fn confirm_legal_entity(
    access: &Access,
    name: Option<&str>,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Decision<Organisation>, Rejection> {
    let read_revision = access.organisation.revision;
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
    organisation.revision += 1;
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
    Ok(Decision::write(
        Change::update(organisation.clone(), read_revision, event),
        organisation,
    ))
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
    let read_revision = organisation.revision;
    let mut organisation = organisation.clone();
    match code.kind {
        EmailKind::Contact => organisation.verification.contact_email_verified_at = Some(now),
        EmailKind::Billing => organisation.verification.billing_email_verified_at = Some(now),
    }
    organisation.revision += 1;
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
    Ok(Change::update(organisation, read_revision, event)
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
    let read_revision = organisation.revision;
    let mut next = organisation.clone();
    let before = next.verification.vat_status;
    let changed = next.record_vies_answer(answer, now);
    let activity = changed.then(|| {
        next.revision += 1;
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
        Change {
            slug: next.slug.clone(),
            profile: Profile::Update {
                organisation: next,
                read_revision,
            },
            activity,
            writes: Vec::new(),
            ledger: None,
        },
        changed,
    ))
}

// --- outbound events (docs/events.md) ------------------------------------------------------

/// `OrganisationCreated` (and `VatStatusChanged` when the new organisation has a VAT number).
fn created_outbound(
    organisation: &Organisation,
    actor: &Actor,
    registration: bool,
    now: DateTime<Utc>,
) -> Outbound {
    let o = organisation;
    Outbound::new(o, actor, now)
        .event(
            DetailType::OrganisationCreated,
            serde_json::json!({
                "organisationName": o.name,
                "organisationType": o.organisation_type,
                "contactEmail": o.contact_email,
                "billingEmail": o.billing_email,
                "companyName": o.company_name,
                "companyAddress": o.company_address,
                "vatNumber": o.vat_code,
                "restrictedToAvailableCloudProviders": o.restricted_to_available_cloud_providers,
                "registration": registration,
            }),
        )
        .vat_status_change(None, o)
}

/// The value of a changed field, as `OrganisationUpdated.changes` carries it.
fn field_value(organisation: &Organisation, field: OrganisationField) -> serde_json::Value {
    use serde_json::json;
    match field {
        OrganisationField::Name => json!(organisation.name),
        OrganisationField::Type => json!(organisation.organisation_type),
        OrganisationField::ContactEmail => json!(organisation.contact_email),
        OrganisationField::BillingEmail => json!(organisation.billing_email),
        OrganisationField::VatNumber => json!(organisation.vat_code),
    }
}

/// `OrganisationUpdated` with the changed fields and their new values; then
/// `OrganisationTypeChanged` when the type changed, `VatStatusChanged` when the VAT status did.
fn updated_outbound(
    before: &Organisation,
    after: &Organisation,
    changed: &[OrganisationField],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Outbound {
    let mut changes: serde_json::Map<String, serde_json::Value> = changed
        .iter()
        .map(|field| (field.wire_name().to_owned(), field_value(after, *field)))
        .collect();
    let restricted = after.restricted_to_available_cloud_providers;
    if restricted != before.restricted_to_available_cloud_providers {
        changes.insert(
            "restrictedToAvailableCloudProviders".to_owned(),
            restricted.into(),
        );
    }
    let mut outbound = Outbound::new(after, actor, now).event(
        DetailType::OrganisationUpdated,
        serde_json::json!({
            "changedFields": changes.keys().collect::<Vec<_>>(),
            "changes": changes,
        }),
    );
    if before.organisation_type != after.organisation_type {
        outbound = outbound.event(
            DetailType::OrganisationTypeChanged,
            serde_json::json!({
                "organisationType": after.organisation_type,
                "previousOrganisationType": before.organisation_type,
            }),
        );
    }
    outbound.vat_status_change(Some(before), after)
}

/// `OrganisationDeleted`: the deletion takes the revision after the last one read.
fn deleted_outbound(organisation: &Organisation, actor: &Actor, now: DateTime<Utc>) -> Outbound {
    let mut outbound = Outbound::new(organisation, actor, now).event(
        DetailType::OrganisationDeleted,
        serde_json::json!({"organisationName": organisation.name}),
    );
    outbound.revision = organisation.revision + 1;
    outbound
}

/// `MemberAdded`, `MemberJoined` or `MemberRemoved` of `member`, without its e-mail address.
pub(crate) fn member_outbound(
    next: &Organisation,
    actor: &Actor,
    detail_type: DetailType,
    member: &Member,
    now: DateTime<Utc>,
) -> Outbound {
    Outbound::new(next, actor, now).event(
        detail_type,
        serde_json::json!({
            "memberIdentity": member.identity,
            "role": member.role.as_str(),
            "kubernetesRole": member.kubernetes_role.as_str(),
        }),
    )
}

/// What a platform operator's PATCH publishes (`operator::update_organisation`, with the
/// organisation `after` it and the overrides it sends): `OrganisationUpdated` with the fields
/// whose values changed, `OrganisationTypeChanged` when the type did, and `QuotasChanged` when
/// the quotas in force or the overrides did.
pub fn operator_outbound(
    view: &OperatorView,
    after: &Organisation,
    overrides: Option<&QuotaOverrides>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Outbound {
    use serde_json::json;
    let before = &view.organisation;
    let overrides_before = view.quota_overrides();
    let overrides_after = overrides
        .cloned()
        .unwrap_or_else(|| overrides_before.clone());
    let mut changes = serde_json::Map::new();
    if before.organisation_type != after.organisation_type {
        changes.insert("organisationType".into(), json!(after.organisation_type));
    }
    let restricted = after.restricted_to_available_cloud_providers;
    if restricted != before.restricted_to_available_cloud_providers {
        changes.insert(
            "restrictedToAvailableCloudProviders".into(),
            restricted.into(),
        );
    }
    if overrides_after != overrides_before {
        changes.insert(
            "quotaOverrides".into(),
            json!(overrides_json(&overrides_after)),
        );
    }
    let mut outbound = Outbound::new(after, actor, now);
    if !changes.is_empty() {
        outbound = outbound.event(
            DetailType::OrganisationUpdated,
            json!({"changedFields": changes.keys().collect::<Vec<_>>(), "changes": changes}),
        );
    }
    if before.organisation_type != after.organisation_type {
        outbound = outbound.event(
            DetailType::OrganisationTypeChanged,
            json!({
                "organisationType": after.organisation_type,
                "previousOrganisationType": before.organisation_type,
            }),
        );
    }
    let quotas = |kind, overrides: &QuotaOverrides| Quotas::defaults(kind).overridden(overrides);
    if quotas(before.organisation_type, &overrides_before)
        != quotas(after.organisation_type, &overrides_after)
        || overrides_after != overrides_before
    {
        outbound = outbound.event(
            DetailType::QuotasChanged,
            json!({
                "organisationType": after.organisation_type,
                "quotas": quotas(after.organisation_type, &overrides_after),
                "quotaOverrides": overrides_after,
            }),
        );
    }
    outbound
}

// --- platform events -----------------------------------------------------------------------

/// What a platform event's decision rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceView {
    pub organisation: Organisation,
    pub record: Option<ResourceRecord>,
    /// Only its payment methods count, and only for payment method events.
    pub ledger: ResourceLedger,
}

/// Why a platform event is not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlatformRefusal {
    /// The slug now names another organisation than the one the event means (deleted, and the
    /// slug taken again): dropped.
    #[error("the event names organisation identity that no longer holds this slug")]
    OtherOrganisation,
    /// The organisation holds [`MAX_RESOURCE_RECORDS`] resource records already.
    #[error("the organisation holds the maximum of {MAX_RESOURCE_RECORDS} resource records")]
    TooManyResources,
    /// The organisation has [`MAX_PAYMENT_METHODS`] payment methods attached already.
    #[error("the organisation has the maximum of {MAX_PAYMENT_METHODS} payment methods attached")]
    TooManyPaymentMethods,
}

/// Applies `event` to the resource it names: `Ok(None)` when it changes nothing (a duplicate,
/// an older event, anything after a cluster's deletion). Otherwise the change and the view
/// after it (for the organisation's next event of the same batch).
pub fn apply_platform_event(
    event: &PlatformEvent,
    view: &ResourceView,
) -> Result<Option<(Change, ResourceView)>, PlatformRefusal> {
    if view.organisation.identity != event.organisation_identity {
        return Err(PlatformRefusal::OtherOrganisation);
    }
    let Some(state) = event.next_state(view.record.as_ref()) else {
        return Ok(None);
    };
    let before = view.record.as_ref().map(|r| &r.state);
    let mut delta = LedgerDelta::between(
        ResourceState::contribution(before),
        ResourceState::contribution(Some(&state)),
    );
    let new_record = view.record.is_none();
    if new_record {
        if view.ledger.resource_records >= MAX_RESOURCE_RECORDS {
            return Err(PlatformRefusal::TooManyResources);
        }
        delta.resource_records = 1;
    }
    let overridden = |state: Option<&ResourceState>| match state {
        Some(ResourceState::QuotasOverridden { overrides }) => overrides.clone(),
        _ => QuotaOverrides::default(),
    };
    let overrides_after = overridden(Some(&state));
    let quotas_changed =
        event.resource == Resource::Quotas && overridden(before) != overridden(Some(&state));
    let activity = event.activity(before, &state).or_else(|| {
        quotas_changed.then(|| {
            ActivityEvent::new(
                ActivityType::OrganisationUpdated,
                Actor::system(),
                format!(
                    "The platform changed quotaOverrides to {}",
                    serde_json::json!(overrides_json(&overrides_after))
                ),
                event.occurred_at,
            )
        })
    });
    let payments = match &event.resource {
        Resource::PaymentMethod(id)
            if before.and_then(ResourceState::attached_at) != state.attached_at() =>
        {
            Some(view.ledger.with_payment_method(id, state.attached_at()))
        }
        _ => None,
    };
    if payments
        .as_ref()
        .is_some_and(|l| l.payment_methods.len() > MAX_PAYMENT_METHODS)
    {
        return Err(PlatformRefusal::TooManyPaymentMethods);
    }
    let record = event.record(view.record.as_ref(), state);
    let mut organisation = view.organisation.clone();
    let profile = match activity {
        Some(_) => {
            organisation.revision += 1;
            Profile::Update {
                organisation: organisation.clone(),
                read_revision: view.organisation.revision,
            }
        }
        None => Profile::Exists,
    };
    // A quota override publishes what an operator's PATCH of the overrides publishes.
    let activity = activity.map(|a| {
        if !quotas_changed {
            return a;
        }
        let before = OperatorView {
            organisation: view.organisation.clone(),
            ledger: view.ledger.clone(),
            quotas: view.record.clone(),
            created_by: None,
        };
        let outbound = operator_outbound(
            &before,
            &organisation,
            Some(&overrides_after),
            &a.actor,
            event.occurred_at,
        );
        a.with_outbound(outbound)
    });
    let ledger = (!delta.is_zero() || payments.is_some()).then(|| LedgerUpdate {
        delta,
        payments: payments.clone(),
        records_below: new_record.then_some(MAX_RESOURCE_RECORDS),
    });
    let change = Change {
        slug: organisation.slug.clone(),
        profile,
        activity,
        writes: vec![Write::put(
            Record::Resource(event.resource.clone(), record.clone()),
            Expect::Version(view.record.as_ref().map(|r| r.version)),
        )],
        ledger,
    };
    let mut ledger_after = payments.unwrap_or_else(|| view.ledger.clone());
    ledger_after.resource_records += u64::from(new_record);
    Ok(Some((
        change,
        ResourceView {
            organisation,
            record: Some(record),
            ledger: ledger_after,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Access;
    use crate::domain::change::{IfNot, Operation};
    use crate::domain::organisation::tests_support::organisation;
    use crate::domain::Subject;

    fn caller(name: &str) -> Caller {
        Caller {
            subject: Subject::parse(name).unwrap(),
            email: Some(Email::parse("e", &format!("{name}@example.com")).unwrap()),
            email_verified: true,
            username: Some(name.to_owned()),
            operator: false,
        }
    }

    fn member(name: &str, role: Role) -> Member {
        Member {
            identity: Uuid::new_v4(),
            email: Some(Email::parse("e", &format!("{name}@example.com")).unwrap()),
            username: Some(name.to_owned()),
            role,
            kubernetes_role: KubernetesRole::None,
            subject: Subject::parse(name),
            joined_at: Utc::now(),
            invitation: None,
        }
    }

    fn access(admin_count: u32, target: Option<Member>) -> Access {
        let mut organisation = organisation();
        organisation.admin_count = admin_count;
        Access {
            caller: caller("alice"),
            organisation,
            member: member("alice", Role::Admin),
            ledger: ResourceLedger::default(),
            quota_overrides: Default::default(),
            target_member: target,
        }
    }

    fn patch(json: serde_json::Value) -> OrganisationPatch {
        let body: super::super::organisation::PatchOrganisationBody =
            serde_json::from_value(json).unwrap();
        OrganisationPatch::try_from(body).unwrap()
    }

    #[test]
    fn a_patch_that_changes_nothing_writes_nothing() {
        let access = access(1, None);
        let same = patch(serde_json::json!({"organisationName": "Acme"}));
        let decision =
            update_organisation(&access, &same, ViesLookup::Unavailable, Utc::now()).unwrap();
        assert!(decision.change.is_none());
    }

    #[test]
    fn a_patch_moves_the_revision_records_the_fields_and_issues_challenges() {
        let access = access(1, None);
        let changes = patch(serde_json::json!({
            "organisationName": "Acme Two", "billingEmail": "b@example.com"
        }));
        let decision =
            update_organisation(&access, &changes, ViesLookup::Unavailable, Utc::now()).unwrap();
        let change = decision.change.unwrap();
        let Profile::Update {
            organisation,
            read_revision,
        } = &change.profile
        else {
            panic!("an update")
        };
        assert_eq!((*read_revision, organisation.revision), (1, 2));
        let event = change.activity.unwrap();
        assert_eq!(event.event_type, ActivityType::OrganisationUpdated);
        assert!(event
            .message
            .ends_with("changed organisationName, billingEmail"));
        assert_eq!(decision.outcome.challenges.len(), 1);
        let [Write {
            operation: Operation::Put(put),
            expect: Expect::Absent,
            ..
        }] = &change.writes[..]
        else {
            panic!("one insert: {:?}", change.writes)
        };
        assert!(matches!(put.as_ref(), Record::EmailCode(_)));
    }

    #[test]
    fn a_new_vat_number_asks_vies_first_when_it_can() {
        let access = access(1, None);
        let vat = patch(serde_json::json!({"vatNumber": "NL004495445B01"}));
        let asked = update_organisation(&access, &vat, ViesLookup::NotAsked, Utc::now());
        assert!(matches!(asked, Err(PatchBlocked::AskVies(_))));
        let answer = ViesAnswer::Invalid;
        let decided =
            update_organisation(&access, &vat, ViesLookup::Answered(&answer), Utc::now()).unwrap();
        assert_eq!(
            decided.outcome.organisation.verification.vat_status,
            Some(super::super::verification::VatStatus::Unverified)
        );
    }

    #[test]
    fn the_last_admin_cannot_be_removed_and_others_can() {
        let admin = member("bob", Role::Admin);
        let refused = remove_member(&access(1, Some(admin.clone())), admin.identity, Utc::now());
        assert!(
            matches!(refused, Err(Rejection::Invalid { ref message, .. }) if message.contains("last admin"))
        );
        let change =
            remove_member(&access(2, Some(admin.clone())), admin.identity, Utc::now()).unwrap();
        let Profile::Update { organisation, .. } = &change.profile else {
            panic!("an update")
        };
        assert_eq!(organisation.admin_count, 1);
        assert_eq!(change.writes.len(), 3, "member, by e-mail, by subject");
        let missing = remove_member(&access(2, None), admin.identity, Utc::now());
        assert!(matches!(missing, Err(Rejection::NotFound(_))));
    }

    #[test]
    fn delete_is_guarded_by_the_ledger_and_the_identity() {
        let mut blocked = access(1, None);
        blocked.ledger.active_clusters = 2;
        let identity = blocked.organisation.identity;
        assert!(matches!(
            delete_organisation(&blocked, identity, Utc::now()),
            Err(Rejection::Invalid { ref message, .. }) if message.contains("2 active clusters")
        ));
        let clear = access(1, None);
        assert!(matches!(
            delete_organisation(&clear, Uuid::new_v4(), Utc::now()),
            Err(Rejection::NotFound(_))
        ));
        let change = delete_organisation(&clear, clear.organisation.identity, Utc::now()).unwrap();
        assert_eq!(change.profile, Profile::Delete { read_revision: 1 });
        assert!(change.activity.is_none());
        assert_eq!(
            change.writes[0],
            Write::check(RecordKey::Ledger, Expect::LedgerClear),
            "the ledger is checked again in the transaction"
        );
    }

    #[test]
    fn a_deletion_removes_the_codes_the_profile_names() {
        let mut access = access(1, None);
        let challenge = EmailChallenge::new(
            &access.organisation.slug,
            EmailKind::Contact,
            &access.organisation.contact_email,
            Utc::now(),
        );
        access.organisation.verification.issued(&challenge);
        let identity = access.organisation.identity;
        let change = delete_organisation(&access, identity, Utc::now()).unwrap();
        let removed = Write::remove(
            RecordKey::EmailCode(challenge.record.code_hash.clone()),
            Expect::Anything,
        );
        assert_eq!(change.writes.last(), Some(&removed));
    }

    #[test]
    fn vies_verdicts_change_the_status_once() {
        let mut organisation = organisation();
        let vat = VatNumber::parse("NL004495445B01").unwrap();
        organisation.set_vat_number(Some(&vat), Utc::now());
        let valid = ViesAnswer::Valid {
            name: Some("ACME".into()),
            address: None,
        };
        let first = record_vies_answer(&organisation, &vat, &valid, Utc::now()).unwrap();
        assert!(first.outcome, "PENDING → VERIFIED");
        let change = first.change.unwrap();
        assert_eq!(
            change.activity.unwrap().event_type,
            ActivityType::VatStatusChanged
        );
        let Profile::Update {
            organisation: after,
            ..
        } = change.profile
        else {
            panic!("an update")
        };
        let again = record_vies_answer(&after, &vat, &valid, Utc::now()).unwrap();
        assert!(!again.outcome, "VERIFIED again is no change");
        assert!(
            again.change.unwrap().activity.is_none(),
            "only the next check moves"
        );
        let other = VatNumber::parse("DE136695976").unwrap();
        assert!(record_vies_answer(&after, &other, &valid, Utc::now()).is_none());
    }

    #[test]
    fn an_operators_change_of_type_and_overrides_publishes_three_events() {
        let view = OperatorView {
            organisation: organisation(),
            ledger: ResourceLedger::default(),
            quotas: None,
            created_by: None,
        };
        let mut after = view.organisation.clone();
        after.organisation_type = OrganisationType::Enterprise;
        after.revision += 1;
        let overrides = QuotaOverrides {
            nodes_per_cluster: Some(1000),
            ..QuotaOverrides::default()
        };
        let operator = Actor::operator(&caller("olga"));
        let outbound = operator_outbound(&view, &after, Some(&overrides), &operator, Utc::now());
        let types: Vec<DetailType> = outbound.events.iter().map(|e| e.detail_type).collect();
        assert_eq!(
            types,
            [
                DetailType::OrganisationUpdated,
                DetailType::OrganisationTypeChanged,
                DetailType::QuotasChanged
            ]
        );
        assert_eq!(outbound.revision, after.revision);
        assert_eq!(outbound.actor.actor_type, "operator");
        let updated = &outbound.events[0].fields;
        assert_eq!(
            updated["changes"],
            serde_json::json!({"organisationType": "ENTERPRISE",
                               "quotaOverrides": {"nodesPerCluster": 1000}})
        );
        let quotas = &outbound.events[2].fields;
        assert_eq!(quotas["quotas"]["nodesPerCluster"], 1000);
        assert_eq!(
            quotas["quotas"]["clustersPerCustomer"], 100,
            "ENTERPRISE's default"
        );
        assert_eq!(
            quotas["quotaOverrides"]["clustersPerCustomer"],
            serde_json::Value::Null
        );
        // The same overrides again and no other change: nothing to publish.
        let view = OperatorView {
            organisation: after.clone(),
            quotas: Some(ResourceRecord {
                state: ResourceState::QuotasOverridden {
                    overrides: overrides.clone(),
                },
                occurred_at: Utc::now(),
                event_rank: 0,
                version: 1,
            }),
            ..view
        };
        let again = operator_outbound(&view, &after, Some(&overrides), &operator, Utc::now());
        assert!(again.events.is_empty());
    }

    #[test]
    fn an_email_code_verifies_only_the_current_address_and_is_used_up() {
        let mut organisation = organisation();
        let challenge = EmailChallenge::new(
            &organisation.slug,
            EmailKind::Contact,
            &organisation.contact_email,
            Utc::now(),
        );
        // Not the organisation's code (one a deleted organisation with this slug left): nothing.
        assert!(matches!(
            verify_email(&organisation, &challenge.record, Utc::now()),
            Err(Rejection::NotFound(_))
        ));
        organisation.verification.issued(&challenge);
        let change = verify_email(&organisation, &challenge.record, Utc::now()).unwrap();
        let last = change.writes.last().unwrap();
        assert_eq!(last.if_not, IfNot::Refuse(Refusal::CodeUsed));
        let stale = EmailChallenge::new(
            &organisation.slug,
            EmailKind::Billing,
            &organisation.contact_email,
            Utc::now(),
        );
        assert!(verify_email(&organisation, &stale.record, Utc::now()).is_err());
    }
}
