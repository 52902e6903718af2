//! Routing of the `resources` function: compute information and quotas.

use std::sync::LazyLock;

use lambda_http::{Body, Request, Response};
use shared::api::resources;
use shared::routes::{not_served_here, Endpoint, Group, Router};
use shared::App;

static ROUTER: LazyLock<Router> = LazyLock::new(|| Router::for_group(Group::Resources));

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let result = match ROUTER.resolve(&request) {
        Ok((Endpoint::GetComputeInformation, p)) => {
            resources::compute_information(app, &request, &p).await
        }
        Ok((Endpoint::GetQuotas, p)) => resources::quotas(app, &request, &p).await,
        Ok((other, _)) => Err(not_served_here(other)),
        Err(e) => Err(e),
    };
    shared::http::respond(&request, result)
}
