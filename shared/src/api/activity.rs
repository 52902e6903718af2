//! `GET /organisations/{slug}/activity`: the activity log as Spring pages.

use lambda_http::{Body, Request, Response};

use crate::access::{self, Permission, Reads};
use crate::app::App;
use crate::domain::activity::{ActivityEvent, ActivitySort};
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

/// The largest sequence number a sort key holds (`storage::keys::Key::activity`: 12 digits).
const LAST_SEQ: u64 = 999_999_999_999;

/// The page as far as it can be read before the log's length is known: ascending pages are the
/// numbers `offset + 1 ..= offset + size`, the first descending page the newest `size` events.
/// Read beside the authorising read, so such a page costs one sequential round trip; other pages
/// need the length first. (The read is made before the caller is known to be allowed; a refusal
/// discards it unread.)
fn early_read(page: &PageRequest<ActivitySort>) -> Option<(u64, u64, Option<i32>)> {
    let size = u64::from(page.size);
    match page.direction {
        Direction::Asc => Some((page.offset() + 1, page.offset() + size, None)),
        Direction::Desc if page.page == 0 => Some((1, LAST_SEQ, Some(i32::try_from(size).ok()?))),
        Direction::Desc => None,
    }
}

/// The events of `first..=last` among what the early read found, if it found all of them
/// (events written after the authorising read are dropped; a page with any missing is read
/// again by its range).
fn page_from(
    numbered: Vec<(u64, ActivityEvent)>,
    first: u64,
    last: u64,
) -> Option<Vec<ActivityEvent>> {
    let events: Vec<ActivityEvent> = numbered
        .into_iter()
        .filter(|(seq, _)| (first..=last).contains(seq))
        .map(|(_, event)| event)
        .collect();
    let expected = if first > last { 0 } else { last - first + 1 };
    (events.len() as u64 == expected).then_some(events)
}

pub async fn list(
    app: &App,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let page = PageRequest::from_query(request, 50, (ActivitySort::CreatedAt, Direction::Desc))?;
    let ascending = page.direction == Direction::Asc;
    let slug = params.slug()?;
    let early = async {
        match early_read(&page) {
            Some((first, last, limit)) => app
                .store
                .activity_numbered(&slug, first, last, ascending, limit)
                .await
                .map(Some)
                .map_err(ApiError::from),
            None => Ok(None),
        }
    };
    let authorise =
        access::authorise_request(app, request, params, Permission::Read, Reads::default());
    // Boxed: two SDK calls in flight make a future of about 20 KB.
    let (access, early) = Box::pin(async { tokio::try_join!(authorise, early) }).await?;
    // Every change took the next revision and stored its event under it: the revision is the
    // number of events, and events are in createdAt order.
    let total = access.organisation.revision;
    let (first, last) = page_range(total, &page);
    let events = match early.and_then(|numbered| page_from(numbered, first, last)) {
        Some(events) => events,
        None => {
            app.store
                .activity_range(&access.organisation.slug, first, last, ascending)
                .await?
        }
    };
    ok_json(&Page::new(events, &page, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::{ActivityType, Actor};

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

    fn numbered(seqs: impl IntoIterator<Item = u64>) -> Vec<(u64, ActivityEvent)> {
        let at = chrono::Utc::now();
        seqs.into_iter()
            .map(|seq| {
                let event = ActivityEvent::new(
                    ActivityType::OrganisationUpdated,
                    Actor::system(),
                    format!("event {seq}"),
                    at,
                );
                (seq, event)
            })
            .collect()
    }

    #[test]
    fn pages_read_before_the_length_is_known() {
        assert_eq!(
            early_read(&page(2, 5, Direction::Asc)),
            Some((11, 15, None))
        );
        assert_eq!(
            early_read(&page(0, 5, Direction::Desc)),
            Some((1, LAST_SEQ, Some(5)))
        );
        assert_eq!(early_read(&page(1, 5, Direction::Desc)), None);
    }

    #[test]
    fn an_early_read_serves_only_a_whole_page() {
        let messages = |events: Vec<ActivityEvent>| -> Vec<String> {
            events.into_iter().map(|e| e.message).collect()
        };
        // The newest 3 of 10, read as they were.
        let page = page_from(numbered([10, 9, 8]), 8, 10).map(messages);
        assert_eq!(
            page,
            Some(vec!["event 10".into(), "event 9".into(), "event 8".into()])
        );
        // An event written after the authorising read (11) is dropped, and one is then missing.
        assert_eq!(page_from(numbered([11, 10, 9]), 8, 10).map(messages), None);
        // Past the end of the log: an empty page, read or not.
        assert_eq!(page_from(numbered([]), 1, 0).map(messages), Some(vec![]));
        assert_eq!(page_from(numbered([11]), 1, 0).map(messages), Some(vec![]));
        // An ascending page clipped by the log's length.
        let clipped = page_from(numbered([9, 10, 11]), 9, 10).map(messages);
        assert_eq!(clipped, Some(vec!["event 9".into(), "event 10".into()]));
    }
}
