//! A change to one organisation, as a decision describes it: the profile after it, the records
//! it writes and removes, its activity event, and what must still hold when it is written.
//! Storage turns a [`Change`] into one transaction under the revision guard
//! (`storage::Store::write`); nothing here knows DynamoDB.

use super::activity::ActivityEvent;
use super::budgets::AddressMailCounter;
use super::ledger::{LedgerDelta, ResourceLedger};
use super::member::Member;
use super::organisation::Organisation;
use super::platform::{Resource, ResourceRecord};
use super::records::{
    CreationLog, DeletionRecord, EmailLookup, IdempotencyRecord, IdentityLookup, Registration,
};
use super::verification::EmailCode;
use super::{Email, Slug, Subject};
use uuid::Uuid;

/// What happens to the organisation's profile.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// A new organisation: its slug must be free and not being swept after a delete.
    Create(Organisation),
    /// The profile after the change, written if the stored one is still at the revision read
    /// (built by [`Change::update`] and [`Change::rewrite`] only).
    Update(ProfileUpdate),
    /// Removed, if the stored one is still at `read_revision`.
    Delete { read_revision: u64 },
    /// Left as it is; it must exist.
    Exists,
    /// Not touched: the change writes records beside organisations only (a mail log).
    Untouched,
}

/// A profile after a change, with the revision it was read at. Its fields are private: the
/// constructors of [`Change`] are the only way to make one, so the revision rule (a change
/// clients see takes the next revision, one they do not keeps it) holds by construction.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileUpdate {
    organisation: Organisation,
    read_revision: u64,
}

impl ProfileUpdate {
    /// The profile as the change writes it.
    pub fn organisation(&self) -> &Organisation {
        &self.organisation
    }

    pub fn into_organisation(self) -> Organisation {
        self.organisation
    }

    /// The revision the decision was taken on: the write's guard.
    pub fn read_revision(&self) -> u64 {
        self.read_revision
    }
}

/// A record written with a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Member(Member),
    /// The member's lookup by token subject (a copy of the member).
    MemberBySubject(Member),
    /// The member's lookup by e-mail address (unique per organisation).
    MemberByEmail(EmailLookup),
    Resource(Resource, ResourceRecord),
    OrganisationIdentity(IdentityLookup),
    Registration(Registration),
    Deletion(DeletionRecord),
    EmailCode(EmailCode),
    /// The partition is being swept after a delete (which happened at `deleted_at`): its slug
    /// stays reserved until the sweep has emptied it.
    PurgeMarker {
        deleted_at: chrono::DateTime<chrono::Utc>,
    },
    CreationLog(CreationLog),
    Idempotency(IdempotencyRecord),
}

/// A record addressed by its key.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordKey {
    Member(Uuid),
    MemberBySubject(Subject),
    MemberByEmail(Email),
    OrganisationIdentity(Uuid),
    EmailCode(String),
    Ledger,
}

/// What must hold of a record's stored state for the change to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Anything,
    Absent,
    Present,
    /// A resource record at this version (`None`: no record yet).
    Version(Option<u64>),
    /// An e-mail lookup that exists and is not yet claimed by a subject.
    Unclaimed,
    /// A verification code that exists and has not been used.
    Unused,
    /// A ledger with no active clusters, cloud accounts or monitoring tenants (or none).
    LedgerClear,
}

/// Why a change was refused when an expectation did not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    SlugTaken,
    AlreadyRegistered,
    MemberEmailTaken,
    CodeUsed,
    /// The request's `Idempotency-Key` has an answer already: the request was made before.
    IdempotencyKeyUsed,
    /// The address had its hourly share of mails from all organisations: decide again without
    /// the mail.
    AddressMailCap,
}

/// What a failed expectation means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfNot {
    /// What the decision rested on changed since it was read: read again and decide again.
    Retry,
    /// The request cannot succeed as it is.
    Refuse(Refusal),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Boxed: records are large, keys small.
    Put(Box<Record>),
    Remove(RecordKey),
    Check(RecordKey),
    /// One more mail to an address this hour, if its counter is still below the cap.
    CountMail(AddressMailCounter),
}

/// One item of a change with its expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub operation: Operation,
    pub expect: Expect,
    pub if_not: IfNot,
}

impl Write {
    /// A new record: it must not exist yet (a clash means a stale read).
    pub fn insert(record: Record) -> Self {
        Self::put(record, Expect::Absent)
    }

    pub fn put(record: Record, expect: Expect) -> Self {
        Self {
            operation: Operation::Put(Box::new(record)),
            expect,
            if_not: IfNot::Retry,
        }
    }

    pub fn remove(key: RecordKey, expect: Expect) -> Self {
        Self {
            operation: Operation::Remove(key),
            expect,
            if_not: IfNot::Retry,
        }
    }

    pub fn check(key: RecordKey, expect: Expect) -> Self {
        Self {
            operation: Operation::Check(key),
            expect,
            if_not: IfNot::Retry,
        }
    }

    /// Counts a mail to the address of `counter`: refused with [`Refusal::AddressMailCap`]
    /// when the address had [`super::budgets::MAILS_PER_ADDRESS_PER_HOUR`] this hour.
    pub fn count_mail(counter: AddressMailCounter) -> Self {
        Self {
            operation: Operation::CountMail(counter),
            expect: Expect::Anything,
            if_not: IfNot::Refuse(Refusal::AddressMailCap),
        }
    }

    /// When the expectation fails, the request is refused for `refusal` instead of retried.
    pub fn or_refuse(mut self, refusal: Refusal) -> Self {
        self.if_not = IfNot::Refuse(refusal);
        self
    }
}

/// Counters and payment methods of the resource ledger, moved by platform events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerUpdate {
    /// Added to the counters and totals.
    pub delta: LedgerDelta,
    /// The payment methods after the change, when they change; written if the stored ones are
    /// still at `payment_version - 1`.
    pub payments: Option<ResourceLedger>,
    /// When the change adds a resource record: the stored count must still be below this.
    pub records_below: Option<u64>,
}

/// A change to one organisation, written as a whole or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub slug: Slug,
    pub profile: Profile,
    /// Stored under the profile's new revision.
    pub activity: Option<ActivityEvent>,
    pub writes: Vec<Write>,
    pub ledger: Option<LedgerUpdate>,
}

impl Change {
    /// A change clients see: the profile moves from `before` to `after` at the next revision,
    /// recorded by `event` (whose outbound events carry that revision).
    pub fn update(before: &Organisation, after: Organisation, event: ActivityEvent) -> Self {
        Self::update_or_rewrite(before, after, Some(event))
    }

    /// A write no client sees (a new code's hash, the VAT job's next check): the profile
    /// keeps its revision, and no activity event is written.
    pub fn rewrite(before: &Organisation, after: Organisation) -> Self {
        Self::update_or_rewrite(before, after, None)
    }

    /// [`Change::update`] with an event, [`Change::rewrite`] without one.
    pub fn update_or_rewrite(
        before: &Organisation,
        mut after: Organisation,
        mut event: Option<ActivityEvent>,
    ) -> Self {
        after.revision = before.revision + u64::from(event.is_some());
        if let Some(outbound) = event.as_mut().and_then(|e| e.outbound.as_mut()) {
            outbound.revision = after.revision;
        }
        Self {
            slug: after.slug.clone(),
            profile: Profile::Update(ProfileUpdate {
                organisation: after,
                read_revision: before.revision,
            }),
            activity: event,
            writes: Vec::new(),
            ledger: None,
        }
    }

    /// With an event, [`Change::update`]; without one the profile is left as it is (it must
    /// exist) and only the change's records are written.
    pub fn update_or_keep(
        before: &Organisation,
        after: Organisation,
        event: Option<ActivityEvent>,
    ) -> Self {
        match event {
            Some(event) => Self::update(before, after, event),
            None => Self {
                slug: before.slug.clone(),
                profile: Profile::Exists,
                activity: None,
                writes: Vec::new(),
                ledger: None,
            },
        }
    }

    /// Edits the profile an update writes (with what a decision counts in it, a mail say); the
    /// revision stays what the constructor made it. `None` when the change updates no profile.
    pub fn edit_profile<T>(&mut self, edit: impl FnOnce(&mut Organisation) -> T) -> Option<T> {
        match &mut self.profile {
            Profile::Update(update) => {
                let revision = update.organisation.revision;
                let answer = edit(&mut update.organisation);
                update.organisation.revision = revision;
                Some(answer)
            }
            _ => None,
        }
    }

    /// The profile as it is after the change: the updated one, or `before` when the change
    /// leaves it as it is.
    pub fn profile_after(&self, before: &Organisation) -> Organisation {
        match &self.profile {
            Profile::Update(update) => update.organisation().clone(),
            _ => before.clone(),
        }
    }

    pub fn with(mut self, write: Write) -> Self {
        self.writes.push(write);
        self
    }

    pub fn with_all(mut self, writes: impl IntoIterator<Item = Write>) -> Self {
        self.writes.extend(writes);
        self
    }
}

/// What a decision comes to: a change to write (or none), and what the request answers once
/// it is written.
#[derive(Debug, Clone)]
pub struct Decision<T> {
    pub change: Option<Change>,
    pub outcome: T,
}

impl<T> Decision<T> {
    pub fn write(change: Change, outcome: T) -> Self {
        Self {
            change: Some(change),
            outcome,
        }
    }

    pub fn nothing(outcome: T) -> Self {
        Self {
            change: None,
            outcome,
        }
    }
}

/// The records of a new membership: the member, its lookup by subject (when bound) and by
/// e-mail (when known; unique per organisation).
pub fn member_writes(member: &Member) -> Vec<Write> {
    let mut writes = vec![Write::insert(Record::Member(member.clone()))];
    if member.subject.is_some() {
        writes.push(Write::put(
            Record::MemberBySubject(member.clone()),
            Expect::Anything,
        ));
    }
    if let Some(email) = &member.email {
        writes.push(
            Write::insert(Record::MemberByEmail(EmailLookup {
                email: email.clone(),
                member_identity: member.identity,
                subject: member.subject.clone(),
            }))
            .or_refuse(Refusal::MemberEmailTaken),
        );
    }
    writes
}

#[cfg(test)]
#[path = "change/revision_tests.rs"]
mod table_tests;
