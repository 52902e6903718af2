//! The route table of the whole API: every path and method, which function serves it and
//! whether it needs a token. `template.yaml`, the `cargo lambda watch` router in `Cargo.toml`
//! and this table are checked against each other by `tests/it/contract.rs`.

use std::collections::HashMap;

use http::Method;
use lambda_http::Request;

use crate::error::ApiError;

/// One Lambda function serving a group of endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Organisations,
    Members,
    Activity,
    Validation,
    Resources,
    /// The operator plane: platform operators only (the `organisations/operator` scope).
    Operators,
}

impl Group {
    /// The function's binary (and `cargo lambda` function) name.
    pub fn function_name(self) -> &'static str {
        match self {
            Self::Organisations => "organisations",
            Self::Members => "members",
            Self::Activity => "activity",
            Self::Validation => "validation",
            Self::Resources => "resources",
            Self::Operators => "operators",
        }
    }

    /// The OAuth scope the token must grant for the group's routes, beyond being valid: API
    /// Gateway's authorizer requires it (`AuthorizationScopes` in template.yaml) and the
    /// function checks it again.
    pub fn required_scope(self) -> Option<&'static str> {
        match self {
            Self::Operators => Some(crate::domain::OPERATOR_SCOPE),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Register,
    CreateOrganisation,
    GetOrganisation,
    UpdateOrganisation,
    DeleteOrganisation,
    GetMyMembership,
    ListMembers,
    AddMember,
    RemoveMember,
    UpdateMember,
    ResendInvitation,
    ListMemberships,
    AcceptMembership,
    LeaveMembership,
    ListActivity,
    GetValidationStatus,
    GetVatLegalEntity,
    ConfirmVatLegalEntity,
    ResendVerificationEmail,
    VerifyEmail,
    /// `POST` of the verification link: the page's button (docs/verification.md).
    ConfirmEmail,
    GetComputeInformation,
    GetQuotas,
    GetOrganisationAsOperator,
    UpdateOrganisationAsOperator,
}

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub endpoint: Endpoint,
    pub group: Group,
    /// Whether API Gateway's JWT authorizer guards the route.
    pub authenticated: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    endpoint: Endpoint,
    group: Group,
) -> Route {
    Route {
        method,
        path,
        endpoint,
        group,
        authenticated: true,
    }
}

pub const ROUTES: &[Route] = &[
    route(
        "POST",
        "/api/v1/registration",
        Endpoint::Register,
        Group::Organisations,
    ),
    route(
        "POST",
        "/api/v1/organisations",
        Endpoint::CreateOrganisation,
        Group::Organisations,
    ),
    route(
        "GET",
        "/api/v1/organisations/{organisationSlug}",
        Endpoint::GetOrganisation,
        Group::Organisations,
    ),
    route(
        "PATCH",
        "/api/v1/organisations/{organisationSlug}",
        Endpoint::UpdateOrganisation,
        Group::Organisations,
    ),
    // The segment is the organisation's identity (a UUID), but API Gateway refuses two names for
    // one path position, so it carries the name every other route gives it.
    route(
        "DELETE",
        "/api/v1/organisations/{organisationSlug}",
        Endpoint::DeleteOrganisation,
        Group::Organisations,
    ),
    route(
        "GET",
        "/api/v1/organisations/{organisationSlug}/me",
        Endpoint::GetMyMembership,
        Group::Members,
    ),
    route(
        "GET",
        "/api/v1/organisations/{organisationSlug}/members",
        Endpoint::ListMembers,
        Group::Members,
    ),
    route(
        "POST",
        "/api/v1/organisations/{organisationSlug}/members",
        Endpoint::AddMember,
        Group::Members,
    ),
    route(
        "DELETE",
        "/api/v1/organisations/{organisationSlug}/members/{memberIdentity}",
        Endpoint::RemoveMember,
        Group::Members,
    ),
    route(
        "PATCH",
        "/api/v1/organisations/{organisationSlug}/members/{memberIdentity}",
        Endpoint::UpdateMember,
        Group::Members,
    ),
    route(
        "POST",
        "/api/v1/organisations/{organisationSlug}/members/{memberIdentity}/invitation/resend",
        Endpoint::ResendInvitation,
        Group::Members,
    ),
    // The caller's own organisations, found without a slug (docs/members.md).
    route(
        "GET",
        "/api/v1/memberships",
        Endpoint::ListMemberships,
        Group::Members,
    ),
    route(
        "POST",
        "/api/v1/memberships/{organisationIdentity}/accept",
        Endpoint::AcceptMembership,
        Group::Members,
    ),
    route(
        "DELETE",
        "/api/v1/memberships/{organisationIdentity}",
        Endpoint::LeaveMembership,
        Group::Members,
    ),
    route(
        "GET",
        "/api/v1/organisations/{organisationSlug}/activity",
        Endpoint::ListActivity,
        Group::Activity,
    ),
    route(
        "GET",
        "/api/v1/organisations/{organisationSlug}/validation-status",
        Endpoint::GetValidationStatus,
        Group::Validation,
    ),
    route(
        "GET",
        "/api/v1/organisations/{organisationSlug}/validation-status/vat",
        Endpoint::GetVatLegalEntity,
        Group::Validation,
    ),
    route(
        "POST",
        "/api/v1/organisations/{organisationSlug}/validation-status/vat",
        Endpoint::ConfirmVatLegalEntity,
        Group::Validation,
    ),
    route(
        "POST",
        "/api/v1/organisations/{organisationSlug}/validation-status/email/resend",
        Endpoint::ResendVerificationEmail,
        Group::Validation,
    ),
    // The code in the link is the credential: the person who opens it may have no account.
    Route {
        authenticated: false,
        ..route(
            "GET",
            "/api/v1/validations/verify-email/{code}",
            Endpoint::VerifyEmail,
            Group::Validation,
        )
    },
    // Mail scanners follow links (GET) but submit no forms: a browser's GET shows a button,
    // whose POST verifies.
    Route {
        authenticated: false,
        ..route(
            "POST",
            "/api/v1/validations/verify-email/{code}",
            Endpoint::ConfirmEmail,
            Group::Validation,
        )
    },
    route(
        "GET",
        "/api/v1/compute-information/organisation/{organisationSlug}",
        Endpoint::GetComputeInformation,
        Group::Resources,
    ),
    route(
        "GET",
        "/api/v1/organisations/{organisationSlug}/quotas",
        Endpoint::GetQuotas,
        Group::Resources,
    ),
    // The operator plane: platform operators only (Group::required_scope).
    route(
        "GET",
        "/admin/v1/orgs/{organisationIdentity}",
        Endpoint::GetOrganisationAsOperator,
        Group::Operators,
    ),
    route(
        "PATCH",
        "/admin/v1/orgs/{organisationIdentity}",
        Endpoint::UpdateOrganisationAsOperator,
        Group::Operators,
    ),
];

/// Path parameters of a matched route.
#[derive(Debug, Default)]
pub struct PathParams(HashMap<String, String>);

impl PathParams {
    /// The `organisationSlug` parameter, parsed: a malformed slug is a 400.
    /// The path's organisation slug, also recorded in the invocation's log span.
    pub fn slug(&self) -> Result<crate::domain::Slug, ApiError> {
        let slug = crate::http::field(crate::domain::Slug::parse(self.get("organisationSlug")?))?;
        tracing::Span::current().record("slug", slug.as_str());
        Ok(slug)
    }

    pub fn get(&self, name: &str) -> Result<&str, ApiError> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("The path parameter {name} is missing.")))
    }
}

/// Routes a function's requests by method and real path. Path parameters come from the path
/// itself, so routing is the same behind API Gateway and behind `cargo lambda watch`.
pub struct Router {
    by_method: HashMap<Method, matchit::Router<Endpoint>>,
}

impl Router {
    /// Built once at cold start from the static [`ROUTES`], which the tests build for every
    /// group: a failure here is a bug in the table, found before any deploy.
    #[allow(clippy::expect_used)]
    pub fn for_group(group: Group) -> Self {
        let mut by_method: HashMap<Method, matchit::Router<Endpoint>> = HashMap::new();
        for r in ROUTES.iter().filter(|r| r.group == group) {
            let method = Method::from_bytes(r.method.as_bytes()).expect("route methods are valid");
            by_method
                .entry(method)
                .or_default()
                .insert(r.path, r.endpoint)
                .expect("route paths of one method do not overlap");
        }
        Self { by_method }
    }

    pub fn resolve(&self, request: &Request) -> Result<(Endpoint, PathParams), ApiError> {
        let path = request.uri().path();
        let not_found =
            || ApiError::NotFound(format!("No route for {} {}.", request.method(), path));
        let router = self.by_method.get(request.method()).ok_or_else(not_found)?;
        let matched = router.at(path).map_err(|_| not_found())?;
        let params = matched
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok((*matched.value, PathParams(params)))
    }
}

/// The route a request is for, as API Gateway names it in `routeKey` (`PATCH
/// /api/v1/organisations/{organisationSlug}`), found in [`ROUTES`] by method and real path, so
/// that it is the same behind `cargo lambda watch` (whose events say `$default`); `unmatched`
/// for a request no route takes. A bounded value: the metrics' `Route` dimension.
pub fn route_key(request: &Request) -> &'static str {
    static ALL: std::sync::LazyLock<HashMap<Method, matchit::Router<&'static str>>> =
        std::sync::LazyLock::new(|| {
            let mut by_method: HashMap<Method, matchit::Router<&'static str>> = HashMap::new();
            for r in ROUTES {
                let key: &'static str = Box::leak(format!("{} {}", r.method, r.path).into());
                if let Ok(method) = Method::from_bytes(r.method.as_bytes()) {
                    // Routes of one method do not overlap (Router::for_group): none is lost.
                    let _ = by_method.entry(method).or_default().insert(r.path, key);
                }
            }
            by_method
        });
    ALL.get(request.method())
        .and_then(|router| router.at(request.uri().path()).ok())
        .map_or("unmatched", |matched| *matched.value)
}

/// For a function's exhaustive match: an endpoint of another group never reaches it, since
/// [`Router::for_group`] knows only its own group's routes.
pub fn not_served_here(endpoint: Endpoint) -> ApiError {
    ApiError::NotFound(format!("{endpoint:?} is not served by this function."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> Request {
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(lambda_http::Body::Empty)
            .unwrap()
    }

    #[test]
    fn a_request_names_its_route_as_api_gateway_does() {
        assert_eq!(
            route_key(&request("PATCH", "/api/v1/organisations/acme-cloud")),
            "PATCH /api/v1/organisations/{organisationSlug}"
        );
        assert_eq!(
            route_key(&request(
                "DELETE",
                "/api/v1/organisations/acme/members/6f1c1d9e-0000-4000-8000-000000000000"
            )),
            "DELETE /api/v1/organisations/{organisationSlug}/members/{memberIdentity}"
        );
        assert_eq!(
            route_key(&request("PUT", "/api/v1/organisations/acme")),
            "unmatched"
        );
        assert_eq!(route_key(&request("GET", "/nowhere")), "unmatched");
        for r in ROUTES {
            let path = r.path.replace('{', "x").replace('}', "");
            assert_eq!(
                route_key(&request(r.method, &path)),
                format!("{} {}", r.method, r.path)
            );
        }
    }
}
