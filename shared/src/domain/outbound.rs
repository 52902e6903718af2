//! The outbound events of each change (docs/events.md): what a decision publishes, built
//! from the organisation before and after it.

use chrono::{DateTime, Utc};

use crate::domain::activity::{Actor, DetailType, Outbound};
use crate::domain::member::Member;
use crate::domain::operator::{overrides_json, OperatorView};
use crate::domain::organisation::{Organisation, OrganisationField};
use crate::domain::quotas::{QuotaOverrides, Quotas};

/// `OrganisationCreated` (and `VatStatusChanged` when the new organisation has a VAT number).
pub(crate) fn created_outbound(
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
pub(crate) fn field_value(
    organisation: &Organisation,
    field: OrganisationField,
) -> serde_json::Value {
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
pub(crate) fn updated_outbound(
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
pub(crate) fn deleted_outbound(
    organisation: &Organisation,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Outbound {
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
