//! Routing of the `organisations` function: registration, create, get, update, delete.

use std::sync::LazyLock;

use lambda_http::{Body, Request, Response};
use shared::api::organisations::{self, Creation};
use shared::routes::{not_served_here, Endpoint, Group, Router};
use shared::App;

static ROUTER: LazyLock<Router> = LazyLock::new(|| Router::for_group(Group::Organisations));

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let result = match ROUTER.resolve(&request) {
        Ok((Endpoint::Register, _)) => {
            organisations::create(app, &request, Creation::Registration).await
        }
        Ok((Endpoint::CreateOrganisation, _)) => {
            organisations::create(app, &request, Creation::Create).await
        }
        Ok((Endpoint::GetOrganisation, p)) => organisations::get(app, &request, &p).await,
        Ok((Endpoint::UpdateOrganisation, p)) => organisations::update(app, &request, &p).await,
        Ok((Endpoint::DeleteOrganisation, p)) => organisations::delete(app, &request, &p).await,
        Ok((other, _)) => Err(not_served_here(other)),
        Err(e) => Err(e),
    };
    shared::http::respond(&request, result)
}
