//! `GET /organisations/{slug}/activity`: the activity log as Spring pages.

use lambda_http::{Body, Request, Response};

use crate::access::{self, Permission, Reads};
use crate::app::App;
use crate::domain::activity::ActivitySort;
use crate::error::ApiError;
use crate::http::ok_json;
use crate::paging::{Direction, Page, PageRequest};
use crate::routes::PathParams;

/// The sequence numbers (1-based, inclusive) of page `page` of a log of `total` events.
pub fn page_range<S>(total: u64, page: &PageRequest<S>) -> (u64, u64) {
    let size = u64::from(page.size);
    let skip = page.offset();
    if skip >= total {
        return (1, 0);
    }
    match page.direction {
        Direction::Asc => (skip + 1, (skip + size).min(total)),
        Direction::Desc => ((total - skip).saturating_sub(size - 1).max(1), total - skip),
    }
}

pub async fn list(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let page = PageRequest::from_query(request, 50, (ActivitySort::CreatedAt, Direction::Desc))?;
    let access =
        access::authorise_request(app, request, params, Permission::Read, Reads::default()).await?;
    let slug = &access.organisation.slug;
    // Every change took the next revision and stored its event under it: the revision is the
    // number of events, and events are in createdAt order.
    let total = access.organisation.revision;
    let (first, last) = page_range(total, &page);
    let events = app
        .store
        .activity_range(slug, first, last, page.direction == Direction::Asc)
        .await?;
    ok_json(&Page::new(events, &page, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: u32, size: u32, direction: Direction) -> PageRequest<ActivitySort> {
        PageRequest {
            page,
            size,
            sort: ActivitySort::CreatedAt,
            direction,
        }
    }

    #[test]
    fn ranges_cover_the_log_exactly_once() {
        for total in [0u64, 1, 7, 10, 11] {
            for size in [1u32, 3, 10] {
                for direction in [Direction::Asc, Direction::Desc] {
                    let mut seen = Vec::new();
                    for p in 0..=(total as u32 / size + 1) {
                        let (first, last) = page_range(total, &page(p, size, direction));
                        assert!(last < first || last - first < u64::from(size));
                        seen.extend(first..=last);
                    }
                    seen.sort();
                    assert_eq!(
                        seen,
                        (1..=total).collect::<Vec<_>>(),
                        "{total} {size} {direction:?}"
                    );
                }
            }
        }
        assert_eq!(page_range(10, &page(0, 3, Direction::Desc)), (8, 10));
        assert_eq!(page_range(10, &page(3, 3, Direction::Desc)), (1, 1));
        assert_eq!(page_range(10, &page(1, 3, Direction::Asc)), (4, 6));
    }
}
