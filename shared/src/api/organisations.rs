//! `POST /registration`, `POST /organisations`, `GET|PATCH /organisations/{organisationSlug}`,
//! `DELETE /organisations/{organisationIdentity}` (the same path position, holding the
//! organisation's identity).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use uuid::Uuid;

use crate::access::{self, Access, Permission, Reads};
use crate::api::idempotency::{Begun, Guard, Idempotency};
use crate::api::validation::{mail_challenge, mail_suppressed};
use crate::app::App;
use crate::domain::change::{Decision, Refusal};
use crate::domain::decisions::{
    self, Created, Limits, NewIdentities, PatchBlocked, Updated, ViesLookup,
};
use crate::domain::organisation::{
    CreateOrganisationBody, NewOrganisation, Organisation, OrganisationPatch, OrganisationResponse,
    PatchOrganisationBody,
};
use crate::domain::records::CreationLog;
use crate::domain::vat::VatNumber;
use crate::domain::verification::ViesAnswer;
use crate::domain::{Caller, FieldError, Slug};
use crate::error::ApiError;
use crate::http::{
    check_if_match, if_match, json_response, no_content, not_modified, not_modified_response,
    ok_json, read_body, with_entity_tag,
};
use crate::routes::PathParams;
use crate::storage::sweep::Budget;
use crate::storage::StoreError;
use http::StatusCode;

/// What a DELETE sweeps of its partition before it answers; the purge sweeper does the rest.
const INLINE_SWEEP_ITEMS: u64 = 5_000;
const INLINE_SWEEP_TIME: Duration = Duration::from_secs(2);

/// How an organisation comes to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    /// `POST /organisations`: a signed-in user creates one more organisation.
    Create,
    /// `POST /registration`: a new user's sign-up; once per user (docs/organisations.md).
    Registration,
}

const ALREADY_REGISTERED: &str = "You have already registered an organisation. Create further organisations with POST /api/v1/organisations.";

/// Slug candidates tried before giving up (the later ones carry random suffixes).
const SLUG_ATTEMPTS: u32 = 12;

pub async fn create(
    app: &App,
    request: &Request,
    how: Creation,
) -> Result<Response<Body>, ApiError> {
    let caller = access::caller(app, request)?;
    let guard = match Idempotency::begin(app, request, &caller).await? {
        Begun::Replay(replayed) => return Ok(replayed),
        Begun::Proceed(guard) => guard,
    };
    let new: NewOrganisation = read_body::<CreateOrganisationBody, _>(request)?;
    decisions::customer_may_choose(new.organisation_type)?;
    // Asked once, before the write: every slug candidate and retry reuses the answer. Only
    // after the cheap checks: a create that will be refused never calls VIES.
    let vies_answer = match (&new.vat_number, &app.vies) {
        (Some(vat), Some(vies)) => {
            refuse_before_vies(app, &new, &caller, how).await?;
            Some(vies.check(vat).await)
        }
        _ => None,
    };
    let created = insert(app, &new, &caller, vies_answer.as_ref(), how, &guard).await;
    let response = match created {
        Ok(created) => announce(app, &created).await,
        Err(error) => Err(error),
    };
    guard.finish(app, response).await
}

/// After a create's commit: its verification mail, and the organisation as answered.
async fn announce(app: &App, created: &Created) -> Result<Response<Body>, ApiError> {
    let organisation = &created.organisation;
    tracing::info!(slug = %organisation.slug, identity = %organisation.identity, "organisation created");
    match &created.mail {
        Some(challenge) => mail_challenge(app, organisation, challenge).await,
        None => mail_suppressed(organisation),
    }
    ok_json(&OrganisationResponse::from(organisation))
}

/// The parameters of this request's creation: its identities are chosen once, so that every
/// slug candidate and retry creates the same organisation.
fn creation<'a>(app: &App, vies: Option<&'a ViesAnswer>, how: Creation) -> decisions::Creation<'a> {
    decisions::Creation {
        ids: NewIdentities {
            organisation: Uuid::new_v4(),
            admin: Uuid::new_v4(),
        },
        vies,
        registration: how == Creation::Registration,
        limit: app.max_organisations_per_user_per_day,
        limits: Limits::new(app.budgets),
    }
}

/// The creation with the request's answer recorded in its transaction (when it has a key).
fn answered(
    created: Created,
    guard: &Guard,
    now: chrono::DateTime<Utc>,
) -> Result<Decision<Created>, ApiError> {
    let body = serde_json::to_string(&OrganisationResponse::from(&created.organisation))
        .map_err(ApiError::internal)?;
    let answer = guard.answer(StatusCode::OK, &body, now);
    Ok(Decision::write(
        created.change.clone().with_all(answer),
        created,
    ))
}

/// The create's own rules (one registration per user, the plan, the caller's
/// organisations-per-day limit) decided on what is stored now, without VIES's answer: what a create that is refused
/// anyway would otherwise spend on VIES (docs/plans.md, "Budgets"). The write decides again.
async fn refuse_before_vies(
    app: &App,
    new: &NewOrganisation,
    caller: &Caller,
    how: Creation,
) -> Result<(), ApiError> {
    if how == Creation::Registration
        && app
            .store
            .get(crate::storage::keys::Key::registration(&caller.subject))
            .await?
            .is_some()
    {
        return Err(ApiError::bad_request(ALREADY_REGISTERED));
    }
    let log = app.store.creation_log(&caller.subject).await?;
    let creation = decisions::Creation {
        ids: NewIdentities {
            organisation: Uuid::nil(),
            admin: Uuid::nil(),
        },
        vies: None,
        registration: how == Creation::Registration,
        limit: app.max_organisations_per_user_per_day,
        limits: Limits::new(app.budgets),
    };
    let slug = Slug::candidate(&new.name.as_slug_source(), 0);
    decisions::create_organisation(new, caller, slug, creation, &log, Utc::now())?;
    Ok(())
}

/// Writes the new organisation under the first free slug candidate, counted in the caller's
/// creation log (read again on every attempt).
async fn insert(
    app: &App,
    new: &NewOrganisation,
    caller: &Caller,
    vies: Option<&ViesAnswer>,
    how: Creation,
    guard: &Guard,
) -> Result<Created, ApiError> {
    let mut creation = creation(app, vies, how);
    let mut attempt = 0;
    while attempt < SLUG_ATTEMPTS {
        let slug = Slug::candidate(&new.name.as_slug_source(), attempt);
        let read =
            |_| async { Ok::<_, ApiError>(Some(app.store.creation_log(&caller.subject).await?)) };
        let decide = |log: CreationLog| {
            let now = Utc::now();
            let created =
                decisions::create_organisation(new, caller, slug.clone(), creation, &log, now)?;
            answered(created, guard, now)
        };
        match app.store.decide_and_write(read, decide).await {
            Ok(created) => return Ok(created),
            Err(ApiError::Refused(Refusal::SlugTaken)) => attempt += 1,
            // Decided again, with the mail suppressed.
            Err(ApiError::Refused(Refusal::AddressMailCap)) => {
                creation.limits.address_capped = true
            }
            Err(ApiError::Refused(Refusal::AlreadyRegistered)) => {
                return Err(ApiError::bad_request(ALREADY_REGISTERED))
            }
            Err(other) => return Err(other),
        }
    }
    let message = format!(
        "no free slug for '{}' after {SLUG_ATTEMPTS} attempts",
        new.name.as_str()
    );
    Err(ApiError::Internal(message.into()))
}

pub async fn get(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let access =
        access::authorise_request(app, request, params, Permission::Read, Reads::default()).await?;
    let (body, tag) = organisation_body(&access.organisation)?;
    if not_modified(request, &tag) {
        return Ok(not_modified_response(&tag));
    }
    Ok(with_entity_tag(json_response(StatusCode::OK, body), &tag))
}

/// The organisation's body and its entity tag: the identity, the revision, and a digest of the
/// body itself, so that the tag changes whenever any field of the body does, also on the writes
/// that keep the revision (the VAT job's re-validation rewrites `vatCodeValidatedAt`), and a
/// 304 never serves a stale copy.
fn organisation_body(organisation: &Organisation) -> Result<(String, String), ApiError> {
    let body = serde_json::to_string(&OrganisationResponse::from(organisation))
        .map_err(ApiError::internal)?;
    let tag = body_tag(organisation, &body);
    Ok((body, tag))
}

/// A strong tag `"<identity>.<revision>.<16 hex digits of the body's SHA-256>"`.
fn body_tag(organisation: &Organisation, body: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "\"{}.{}.{short}\"",
        organisation.identity, organisation.revision
    )
}

/// The current tag of `organisation`, for `If-Match`.
pub(crate) fn organisation_tag(organisation: &Organisation) -> Result<String, ApiError> {
    organisation_body(organisation).map(|(_, tag)| tag)
}

/// A PATCH that may first need VIES's answer for a new VAT number.
enum PatchError {
    AskVies(VatNumber),
    Api(ApiError),
}

impl From<PatchBlocked> for PatchError {
    fn from(blocked: PatchBlocked) -> Self {
        match blocked {
            PatchBlocked::AskVies(vat) => Self::AskVies(vat),
            PatchBlocked::Rejected(rejection) => Self::Api(rejection.into()),
        }
    }
}

impl From<StoreError> for PatchError {
    fn from(error: StoreError) -> Self {
        Self::Api(error.into())
    }
}

impl From<crate::domain::Rejection> for PatchError {
    fn from(rejection: crate::domain::Rejection) -> Self {
        Self::Api(rejection.into())
    }
}

pub async fn update(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let caller = access::caller(app, request)?;
    let patch: OrganisationPatch = read_body::<PatchOrganisationBody, _>(request)?;
    let precondition = if_match(request);
    // Boxed: the write loop with its reads and VIES in it is a large future.
    let updated = Box::pin(apply_patch(
        app,
        &slug,
        &caller,
        &patch,
        precondition.as_deref(),
    ))
    .await?;
    for challenge in &updated.challenges {
        mail_challenge(app, &updated.organisation, challenge).await;
    }
    (0..updated.suppressed).for_each(|_| mail_suppressed(&updated.organisation));
    let (body, tag) = organisation_body(&updated.organisation)?;
    Ok(with_entity_tag(json_response(StatusCode::OK, body), &tag))
}

/// Applies `patch` through the write path. VIES is asked at most once per request, only when
/// the decision says the number really changes, and its answer is decided on the same read: VIES
/// is the only call between the read and the transaction (a conflict reads again, and decides
/// with the answer it has).
async fn apply_patch(
    app: &App,
    slug: &Slug,
    caller: &Caller,
    patch: &OrganisationPatch,
    precondition: Option<&str>,
) -> Result<Updated, ApiError> {
    let mut vies_answer: Option<ViesAnswer> = None;
    let mut limits = Limits::new(app.budgets);
    let mut read: Option<Access> = None;
    loop {
        let lookup = vies_lookup(app, vies_answer.as_ref());
        let decided_on = Mutex::new(None); // the read, for the decision after VIES
        let reads = |attempt| {
            let reused = if attempt == 0 { read.take() } else { None };
            reread(app, slug, caller, reused)
        };
        let decide = |access: Access| {
            let current = organisation_tag(&access.organisation).map_err(PatchError::Api)?;
            check_if_match(precondition, &current).map_err(PatchError::Api)?;
            let decided =
                decisions::update_organisation(&access, patch, lookup, limits, Utc::now());
            if let Ok(mut slot) = decided_on.lock() {
                *slot = Some(access);
            }
            decided.map_err(PatchError::from)
        };
        match app.store.decide_and_write(reads, decide).await {
            Ok(updated) => return Ok(updated),
            Err(PatchError::AskVies(vat)) => {
                vies_answer = Some(ask_vies(app, &vat).await?);
                read = decided_on.into_inner().ok().flatten();
            }
            Err(PatchError::Api(ApiError::Refused(Refusal::AddressMailCap))) => {
                limits.address_capped = true // decided again, the mail suppressed
            }
            Err(PatchError::Api(error)) => return Err(error),
        }
    }
}

/// The read a PATCH's decision rests on: `reused` (the one VIES's question came from), else a
/// fresh authorising read with the ledger (leaving TRIAL needs a payment method).
async fn reread(
    app: &App,
    slug: &Slug,
    caller: &Caller,
    reused: Option<Access>,
) -> Result<Option<Access>, PatchError> {
    match reused {
        Some(access) => Ok(Some(access)),
        None => {
            let reads = Reads::with_ledger();
            access::authorise(&app.store, slug, caller, Permission::Administer, reads).await
        }
    }
}

/// What the PATCH's decision knows of VIES: its answer, or whether it may be asked.
fn vies_lookup<'a>(app: &App, answer: Option<&'a ViesAnswer>) -> ViesLookup<'a> {
    match (answer, &app.vies) {
        (Some(answer), _) => ViesLookup::Answered(answer),
        (None, Some(_)) => ViesLookup::NotAsked,
        (None, None) => ViesLookup::Unavailable,
    }
}

/// VIES's answer for a PATCH's new number (the decision asks only when VIES is configured).
async fn ask_vies(app: &App, vat: &VatNumber) -> Result<ViesAnswer, ApiError> {
    match &app.vies {
        Some(vies) => Ok(vies.check(vat).await),
        None => Err(ApiError::Internal(
            "VIES asked for but not configured".into(),
        )),
    }
}

pub async fn delete(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    // The path position that GET reads as the slug holds the organisation's identity here.
    let identity = Uuid::parse_str(params.get("organisationSlug")?).map_err(|_| {
        ApiError::invalid_fields(vec![FieldError::new(
            "organisationIdentity",
            "must be a UUID",
        )])
    })?;
    let caller = access::caller(app, request)?;
    let slug =
        app.store.slug_by_identity(identity).await?.ok_or_else(|| {
            ApiError::NotFound(format!("Organisation {identity} does not exist."))
        })?;
    let precondition = if_match(request);
    let reads = Reads::with_ledger();
    access::apply(
        &app.store,
        &slug,
        &caller,
        Permission::Administer,
        reads,
        |access| {
            let current = organisation_tag(&access.organisation)?;
            check_if_match(precondition.as_deref(), &current)?;
            let change = decisions::delete_organisation(access, identity, Utc::now())?;
            Ok::<_, ApiError>(Decision::write(change, ()))
        },
    )
    .await?;
    tracing::info!(%slug, %identity, by = %caller.subject, "organisation deleted");
    sweep_inline(app, &slug).await;
    Ok(no_content())
}

/// After a deletion's commit, readers see no organisation any more.
async fn sweep_inline(app: &App, slug: &Slug) {
    // The deletion has committed: readers see no organisation any more. The partition is swept
    // here within a small budget (most organisations fit in it); what is left, or what a failed
    // sweep leaves, the scheduled purge sweeper finishes. The PURGE marker keeps the slug
    // reserved until then. The caller's DELETE has succeeded either way.
    let mut budget = Budget::new(INLINE_SWEEP_ITEMS, Instant::now() + INLINE_SWEEP_TIME);
    match app.store.sweep_partition(slug, &mut budget).await {
        Ok(swept) if swept.finished => {
            tracing::info!(%slug, deleted = swept.deleted, "partition swept");
        }
        Ok(swept) => {
            tracing::info!(%slug, deleted = swept.deleted, "partition swept in part; the purge sweeper finishes it");
        }
        Err(error) => {
            tracing::warn!(%error, %slug, "sweeping a deleted organisation's partition failed; the purge sweeper finishes it");
        }
    }
}
