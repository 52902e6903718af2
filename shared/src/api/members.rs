//! `GET .../me`, `GET|POST .../members`, `DELETE .../members/{memberIdentity}`.

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use uuid::Uuid;

use crate::access::{self, authorise, Permission, Reads};
use crate::app::App;
use crate::domain::activity::{ActivityEvent, ActivityType, Actor};
use crate::domain::member::{KubernetesRole, Member, MemberResponse, Role};
use crate::domain::{bounded_text, Email};
use crate::error::{ApiError, FieldError};
use crate::http::{json_object, no_content, ok_empty, ok_json};
use crate::paging::{Direction, Page, PageRequest};
use crate::routes::PathParams;
use crate::storage::retry_on_conflict;

pub async fn me(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let access =
        access::authorise_request(app, request, params, Permission::Read, Reads::default()).await?;
    ok_json(&MemberResponse::from(&access.member))
}

/// Member fields a list may be sorted by.
const SORTABLE: &[&str] = &["joinedAt", "email", "username", "role"];

pub async fn list(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let page = PageRequest::from_query(request, 50, SORTABLE, ("joinedAt", Direction::Asc))?;
    let caller = access::caller(app, request)?;
    // One Query serves both the authorisation (the caller is among the members) and the page.
    let mut members = app.store.members(&slug).await?;
    let is_member = members
        .iter()
        .any(|m| m.subject.as_ref() == Some(&caller.subject));
    if !is_member {
        // Not found by subject: 404/403, or an invitation to claim first.
        authorise(
            &app.store,
            caller,
            &slug,
            Permission::Read,
            Reads::default(),
        )
        .await?;
        members = app.store.members(&slug).await?;
    }
    sort_members(&mut members, page.sort_field, page.direction);
    let total = members.len() as u64;
    let content: Vec<MemberResponse<'_>> = members
        .iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(page.size as usize)
        .map(MemberResponse::from)
        .collect();
    ok_json(&Page::new(content, &page, total))
}

fn sort_members(members: &mut [Member], field: &str, direction: Direction) {
    members.sort_by(|a, b| {
        let order = match field {
            "email" => a
                .email
                .as_ref()
                .map(Email::key)
                .cmp(&b.email.as_ref().map(Email::key)),
            "username" => a.username.cmp(&b.username),
            "role" => a.role.as_str().cmp(b.role.as_str()),
            _ => a.joined_at.cmp(&b.joined_at),
        }
        // A stable, total order: ties are broken by identity.
        .then_with(|| a.identity.cmp(&b.identity));
        match direction {
            Direction::Asc => order,
            Direction::Desc => order.reverse(),
        }
    });
}

const ADD_FIELDS: &[&str] = &["email", "role", "kubernetesRole", "username"];

/// A validated `POST .../members` body.
struct NewMember {
    email: Email,
    role: Role,
    kubernetes_role: KubernetesRole,
    username: Option<String>,
}

fn parse_new_member(body: &serde_json::Map<String, Value>) -> Result<NewMember, Vec<FieldError>> {
    let mut errors = Vec::new();
    let text = |name: &str, errors: &mut Vec<FieldError>| match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError::new(name, "must be a string"));
            None
        }
    };
    let email = match body.get("email") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("email", "is required"));
            None
        }
        Some(v) => Email::from_json("email", v)
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let role = match text("role", &mut errors) {
        Some(r) => Role::parse("role", &r).map_err(|e| errors.push(e)).ok(),
        None if body.get("role").is_some_and(|v| !v.is_null()) => None,
        None => {
            errors.push(FieldError::new("role", "is required"));
            None
        }
    };
    let kubernetes_role = match text("kubernetesRole", &mut errors) {
        Some(k) => KubernetesRole::parse("kubernetesRole", &k)
            .map_err(|e| errors.push(e))
            .ok(),
        None => Some(KubernetesRole::None),
    };
    let username = text("username", &mut errors)
        .and_then(|u| {
            bounded_text("username", &u, 255)
                .map_err(|e| errors.push(e))
                .ok()
        })
        .flatten();
    match (email, role, kubernetes_role) {
        (Some(email), Some(role), Some(kubernetes_role)) if errors.is_empty() => Ok(NewMember {
            email,
            role,
            kubernetes_role,
            username,
        }),
        _ => Err(errors),
    }
}

pub async fn add(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let caller = access::caller(app, request)?;
    let body = json_object(request, ADD_FIELDS, &["identity", "joinedAt", "subject"])?;
    let new = parse_new_member(&body).map_err(ApiError::invalid_fields)?;
    let member = Member {
        identity: Uuid::new_v4(),
        email: Some(new.email),
        username: new.username,
        role: new.role,
        kubernetes_role: new.kubernetes_role,
        subject: None,
        joined_at: Utc::now(),
    };
    let email = member.email.as_ref().map(Email::as_str).unwrap_or_default();
    retry_on_conflict(|| async {
        let access = authorise(
            &app.store,
            caller.clone(),
            &slug,
            Permission::Administer,
            Reads::default(),
        )
        .await?;
        let actor = Actor::user(&access.caller);
        let event = ActivityEvent::new(
            ActivityType::MemberAdded,
            actor.clone(),
            format!(
                "{} added {email} as {}",
                actor.display_name(),
                member.role.as_str()
            ),
            Utc::now(),
        );
        if app
            .store
            .add_member(&access.organisation, &member, &event)
            .await?
        {
            Ok(())
        } else {
            Err(ApiError::BadRequest {
                message: format!("{email} is already a member of organisation '{slug}'."),
                details: vec![FieldError::new("email", "is already a member").to_string()],
            })
        }
    })
    .await?;
    tracing::info!(slug = %slug, member = %member.identity, "member added");
    Ok(ok_empty())
}

pub async fn remove(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let slug = params.slug()?;
    let identity = Uuid::parse_str(params.get("memberIdentity")?).map_err(|_| {
        ApiError::invalid_fields(vec![FieldError::new("memberIdentity", "must be a UUID")])
    })?;
    let caller = access::caller(app, request)?;
    retry_on_conflict(|| async {
        // The identity is looked up inside this organisation's partition only (in the same
        // read as the authorisation): another organisation's member identity is not found here.
        let reads = Reads {
            member: Some(identity),
            ..Reads::default()
        };
        let access = authorise(
            &app.store,
            caller.clone(),
            &slug,
            Permission::Administer,
            reads,
        )
        .await?;
        let member = access.target_member.clone().ok_or_else(|| {
            ApiError::NotFound(format!(
                "Member {identity} does not exist in organisation '{slug}'."
            ))
        })?;
        if member.role == Role::Admin && access.organisation.admin_count <= 1 {
            return Err(ApiError::bad_request(format!(
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
            Utc::now(),
        );
        app.store
            .remove_member(&access.organisation, &member, &event)
            .await?;
        Ok(())
    })
    .await?;
    tracing::info!(slug = %slug, member = %identity, "member removed");
    Ok(no_content())
}
