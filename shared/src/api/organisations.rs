//! `POST /registration`, `POST /organisations`, `GET|PATCH /organisations/{slug}`,
//! `DELETE /organisations/{identity}`.

use chrono::{Duration, Utc};
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

use crate::access::{self, authorise, Permission, Reads};
use crate::api::validation::EmailChallenge;
use crate::app::App;
use crate::domain::activity::{ActivityEvent, ActivityType, Actor};
use crate::domain::member::{KubernetesRole, Member, Role};
use crate::domain::organisation::{
    NewOrganisation, Organisation, OrganisationPatch, OrganisationResponse, OrganisationType,
    CREATE_FIELDS, PATCH_FIELDS, READ_ONLY_FIELDS,
};
use crate::domain::verification::{EmailKind, Verification, ViesAnswer};
use crate::domain::Slug;
use crate::error::{ApiError, FieldError};
use crate::http::{json_object, no_content, ok_json};
use crate::routes::PathParams;
use crate::storage::organisations::{CreateRefused, DeletionRecord};
use crate::storage::{retry, retry_on_conflict};
use tokio::sync::OnceCell;

/// How an organisation comes to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    /// `POST /organisations`: a signed-in user creates one more organisation.
    Create,
    /// `POST /registration`: a new user's sign-up; once per user (docs/organisations.md).
    Registration,
}

/// Slug candidates tried before giving up (the later ones carry random suffixes).
const SLUG_ATTEMPTS: u32 = 12;

pub async fn create(
    app: &App,
    request: &Request,
    how: Creation,
) -> Result<Response<Body>, ApiError> {
    let caller = access::caller(app, request)?;
    let body = json_object(request, CREATE_FIELDS, READ_ONLY_FIELDS)?;
    let new = NewOrganisation::parse(&body).map_err(ApiError::invalid_fields)?;
    let now = Utc::now();
    let admin = Member {
        identity: Uuid::new_v4(),
        email: caller.email.clone(),
        username: caller.username.clone(),
        role: Role::Admin,
        kubernetes_role: KubernetesRole::ClusterAdmin,
        subject: Some(caller.subject.clone()),
        joined_at: now,
    };
    // Asked once, before the write: a retried transaction reuses the answer.
    let vies_answer = match (&new.vat_number, &app.vies) {
        (Some(vat), Some(vies)) => Some(vies.check(vat).await),
        _ => None,
    };
    let identity = Uuid::new_v4();
    let mut slug_attempt = 0;
    let mut conflicts = 0;
    loop {
        let slug = Slug::candidate(&new.name.as_slug_source(), slug_attempt);
        let mut organisation = Organisation {
            identity,
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
            restricted_to_available_cloud_providers: new.organisation_type
                == OrganisationType::Trial,
            created_at: now,
            revision: 1,
            admin_count: 1,
            verification: Verification::default(),
            vat_next_check_at: None,
        };
        organisation.set_vat_number(new.vat_number.as_ref(), now);
        if let Some(answer) = &vies_answer {
            organisation.record_vies_answer(answer, now);
        }
        let actor = Actor::user(&caller);
        let mut message = format!(
            "{} created organisation {} ({slug})",
            actor.display_name(),
            organisation.name.as_str()
        );
        if let Some(answer) = &vies_answer {
            message.push_str(&format!("; {}", answer.describe()));
        }
        let event = ActivityEvent::new(ActivityType::OrganisationCreated, actor, message, now);
        let challenge = EmailChallenge::new(
            &organisation,
            EmailKind::Contact,
            &organisation.contact_email,
            now,
        );
        let registration = (how == Creation::Registration).then_some(&caller.subject);
        match app
            .store
            .create_organisation(
                &organisation,
                &admin,
                &event,
                registration,
                vec![challenge.write(&app.store)?],
            )
            .await
        {
            Ok(Ok(())) => {
                tracing::info!(slug = %slug, identity = %identity, "organisation created");
                challenge.send(app, &organisation).await;
                return ok_json(&OrganisationResponse::from(&organisation));
            }
            Ok(Err(CreateRefused::AlreadyRegistered)) => {
                return Err(ApiError::bad_request(
                    "You have already registered an organisation. Create further organisations with POST /api/v1/organisations.",
                ))
            }
            Ok(Err(CreateRefused::SlugTaken)) if slug_attempt + 1 < SLUG_ATTEMPTS => {
                slug_attempt += 1;
            }
            Err(e) if e.is_conflict() && conflicts + 1 < retry::MAX_ATTEMPTS => {
                conflicts += 1;
                retry::backoff(conflicts).await;
            }
            Ok(Err(CreateRefused::SlugTaken)) => {
                return Err(ApiError::Internal(
                    format!(
                        "no free slug for '{}' after {SLUG_ATTEMPTS} attempts",
                        new.name.as_str()
                    )
                    .into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

pub async fn get(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let access =
        access::authorise_request(app, request, params, Permission::Read, Reads::default()).await?;
    ok_json(&OrganisationResponse::from(&access.organisation))
}

pub async fn update(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let caller = access::caller(app, request)?;
    let body = json_object(request, PATCH_FIELDS, READ_ONLY_FIELDS)?;
    let patch = OrganisationPatch::parse(&body).map_err(ApiError::invalid_fields)?;
    // VIES is asked at most once per request, even when the write is retried.
    let vies_answer: OnceCell<Option<ViesAnswer>> = OnceCell::new();
    let (updated, challenges) = retry_on_conflict(|| async {
        let access = authorise(
            &app.store,
            caller.clone(),
            &slug,
            Permission::Administer,
            Reads::default(),
        )
        .await?;
        let read_revision = access.organisation.revision;
        let mut organisation = access.organisation;
        let now = Utc::now();
        let changed = patch.apply(&mut organisation, now);
        if changed.is_empty() {
            return Ok((organisation, Vec::new()));
        }
        let mut message = format!(
            "{} changed {}",
            Actor::user(&access.caller).display_name(),
            changed.join(", ")
        );
        if changed.contains(&"vatNumber") {
            let answer = vies_answer
                .get_or_init(|| async {
                    let vat = patch.vat_number.clone().flatten()?;
                    Some(app.vies.as_ref()?.check(&vat).await)
                })
                .await;
            if let Some(answer) = answer {
                organisation.record_vies_answer(answer, now);
                message.push_str(&format!("; {}", answer.describe()));
            }
        }
        let mut challenges = Vec::new();
        if changed.contains(&"contactEmail") {
            challenges.push(EmailChallenge::new(
                &organisation,
                EmailKind::Contact,
                &organisation.contact_email,
                now,
            ));
        }
        if let (true, Some(billing)) = (
            changed.contains(&"billingEmail"),
            &organisation.billing_email,
        ) {
            challenges.push(EmailChallenge::new(
                &organisation,
                EmailKind::Billing,
                billing,
                now,
            ));
        }
        organisation.revision += 1;
        let event = ActivityEvent::new(
            ActivityType::OrganisationUpdated,
            Actor::user(&access.caller),
            message,
            now,
        );
        let mut writes = vec![app
            .store
            .put_activity(&slug, organisation.revision, &event)?];
        for challenge in &challenges {
            writes.push(challenge.write(&app.store)?);
        }
        app.store
            .commit(
                vec![app.store.put_profile(&organisation, read_revision)?],
                writes,
            )
            .await?;
        Ok((organisation, challenges))
    })
    .await?;
    for challenge in &challenges {
        challenge.send(app, &updated).await;
    }
    ok_json(&OrganisationResponse::from(&updated))
}

/// How long the record of a deleted organisation is kept.
const DELETION_RECORD_DAYS: i64 = 400;

pub async fn delete(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let raw = params.get("organisationIdentity")?;
    let identity = Uuid::parse_str(raw).map_err(|_| {
        ApiError::invalid_fields(vec![FieldError::new(
            "organisationIdentity",
            "must be a UUID",
        )])
    })?;
    let caller = access::caller(app, request)?;
    let not_found = || ApiError::NotFound(format!("Organisation {identity} does not exist."));
    let slug = app
        .store
        .slug_by_identity(identity)
        .await?
        .ok_or_else(not_found)?;
    retry_on_conflict(|| async {
        let access = authorise(
            &app.store,
            caller.clone(),
            &slug,
            Permission::Administer,
            Reads {
                ledger: true,
                ..Reads::default()
            },
        )
        .await?;
        if access.organisation.identity != identity {
            return Err(not_found());
        }
        if let Some(blocker) = access.ledger.delete_blocker() {
            return Err(ApiError::bad_request(blocker));
        }
        let now = Utc::now();
        let record = DeletionRecord {
            identity,
            slug: slug.clone(),
            name: access.organisation.name.as_str().to_owned(),
            deleted_by: caller.subject.to_string(),
            deleted_at: now,
            expires_at: (now + Duration::days(DELETION_RECORD_DAYS)).timestamp(),
        };
        app.store
            .delete_organisation(&access.organisation, &record)
            .await?;
        tracing::info!(slug = %slug, identity = %identity, by = %caller.subject, "organisation deleted");
        Ok(())
    })
    .await?;
    Ok(no_content())
}
