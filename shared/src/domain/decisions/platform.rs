//! Platform events: facts owned by other services, applied to the organisation they name.

use crate::domain::activity::{ActivityEvent, ActivityType, Actor};
use crate::domain::change::{Change, Expect, LedgerUpdate, Record, Write};
use crate::domain::ledger::{
    LedgerDelta, ResourceLedger, MAX_PAYMENT_METHODS, MAX_RESOURCE_RECORDS,
};
use crate::domain::operator::{overrides_json, OperatorView};
use crate::domain::organisation::Organisation;
use crate::domain::outbound::*;
use crate::domain::platform::{PlatformEvent, Resource, ResourceRecord, ResourceState};
use crate::domain::quotas::QuotaOverrides;

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
            member_count: 0,
        };
        let outbound = operator_outbound(
            &before,
            &view.organisation,
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
    let mut change =
        Change::update_or_keep(&view.organisation, view.organisation.clone(), activity).with(
            Write::put(
                Record::Resource(event.resource.clone(), record.clone()),
                Expect::Version(view.record.as_ref().map(|r| r.version)),
            ),
        );
    change.ledger = ledger;
    let organisation = change.profile_after(&view.organisation);
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
#[path = "platform_tests.rs"]
mod table_tests;
