//! Routing of the `members` function: the caller's membership, list, add, remove, role change;
//! the caller's organisations (`/api/v1/memberships`): list, accept, leave or decline.

use std::sync::LazyLock;

use lambda_http::{Body, Request, Response};
use shared::api::{members, memberships};
use shared::routes::{not_served_here, Endpoint, Group, Router};
use shared::App;

static ROUTER: LazyLock<Router> = LazyLock::new(|| Router::for_group(Group::Members));

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let result = match ROUTER.resolve(&request) {
        Ok((Endpoint::GetMyMembership, p)) => members::me(app, &request, &p).await,
        Ok((Endpoint::ListMembers, p)) => members::list(app, &request, &p).await,
        Ok((Endpoint::AddMember, p)) => members::add(app, &request, &p).await,
        Ok((Endpoint::RemoveMember, p)) => members::remove(app, &request, &p).await,
        Ok((Endpoint::UpdateMember, p)) => memberships::update_member(app, &request, &p).await,
        Ok((Endpoint::ResendInvitation, p)) => {
            memberships::resend_invitation(app, &request, &p).await
        }
        Ok((Endpoint::ListMemberships, _)) => memberships::list(app, &request).await,
        Ok((Endpoint::AcceptMembership, p)) => memberships::accept(app, &request, &p).await,
        Ok((Endpoint::LeaveMembership, p)) => memberships::leave(app, &request, &p).await,
        Ok((other, _)) => Err(not_served_here(other)),
        Err(e) => Err(e),
    };
    shared::http::respond(&request, result)
}
