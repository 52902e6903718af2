//! Routing of the `activity` function: the activity log.

use std::sync::LazyLock;

use lambda_http::{Body, Request, Response};
use shared::api::activity;
use shared::routes::{not_served_here, Endpoint, Group, Router};
use shared::App;

static ROUTER: LazyLock<Router> = LazyLock::new(|| Router::for_group(Group::Activity));

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let result = match ROUTER.resolve(&request) {
        Ok((Endpoint::ListActivity, p)) => activity::list(app, &request, &p).await,
        Ok((other, _)) => Err(not_served_here(other)),
        Err(e) => Err(e),
    };
    shared::http::respond(&request, result)
}
