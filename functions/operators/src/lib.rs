//! Routing of the `operators` function: the operator plane (`/admin/v1/orgs/...`).

use std::sync::LazyLock;

use lambda_http::{Body, Request, Response};
use shared::api::operators;
use shared::routes::{not_served_here, Endpoint, Group, Router};
use shared::App;

static ROUTER: LazyLock<Router> = LazyLock::new(|| Router::for_group(Group::Operators));

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let result = match ROUTER.resolve(&request) {
        Ok((Endpoint::GetOrganisationAsOperator, p)) => operators::get(app, &request, &p).await,
        Ok((Endpoint::UpdateOrganisationAsOperator, p)) => {
            operators::update(app, &request, &p).await
        }
        Ok((other, _)) => Err(not_served_here(other)),
        Err(e) => Err(e),
    };
    shared::http::respond(&request, result)
}
