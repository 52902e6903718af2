//! Spring Data's `Page` JSON, exactly as the platform's existing clients read it, and the
//! `page`/`size`/`sort` query parameters that select one.

use lambda_http::{Request, RequestExt};
use serde::Serialize;

use crate::domain::activity::ActivitySort;
use crate::domain::member::MemberSort;
use crate::domain::FieldError;
use crate::error::ApiError;

/// A field a list can be sorted by.
pub trait SortField: Copy + 'static {
    const ALL: &'static [Self];
    fn wire_name(self) -> &'static str;
}

impl SortField for MemberSort {
    const ALL: &'static [Self] = &MemberSort::ALL;
    fn wire_name(self) -> &'static str {
        MemberSort::wire_name(self)
    }
}

impl SortField for ActivitySort {
    const ALL: &'static [Self] = &[ActivitySort::CreatedAt];
    fn wire_name(self) -> &'static str {
        "createdAt"
    }
}

pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<S> {
    pub page: u32,
    pub size: u32,
    pub sort: S,
    pub direction: Direction,
}

impl<S: SortField> PageRequest<S> {
    /// Reads `page` (>= 0), `size` (1..=100) and `sort` (`field` or `field,asc|desc`, field one
    /// of `sortable`). Anything else is a 400 that says what is allowed.
    pub fn from_query(
        request: &Request,
        default_size: u32,
        default_sort: (S, Direction),
    ) -> Result<Self, ApiError> {
        let query = request.query_string_parameters_ref();
        let one = |name: &str| -> Result<Option<&str>, FieldError> {
            let values = query.and_then(|q| q.all(name)).unwrap_or_default();
            match values.as_slice() {
                [] => Ok(None),
                [value] => Ok(Some(value)),
                _ => Err(FieldError::new(name, "must be given at most once")),
            }
        };
        let mut errors = Vec::new();
        let mut number =
            |name: &str, default: u32, range: std::ops::RangeInclusive<u32>| match one(name) {
                Ok(None) => default,
                Ok(Some(raw)) => match raw.trim().parse::<u32>() {
                    Ok(n) if range.contains(&n) => n,
                    _ => {
                        errors.push(FieldError::new(
                            name,
                            format!(
                                "must be a whole number from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        ));
                        default
                    }
                },
                Err(e) => {
                    errors.push(e);
                    default
                }
            };
        let page = number("page", 0, 0..=i32::MAX as u32);
        let size = number("size", default_size, 1..=MAX_PAGE_SIZE);
        let (sort, direction) = match one("sort") {
            Ok(None) => default_sort,
            Ok(Some(raw)) => {
                let (field, dir) = raw.split_once(',').unwrap_or((raw, "asc"));
                let field = S::ALL.iter().find(|f| f.wire_name() == field.trim());
                let dir = match dir.trim().to_ascii_lowercase().as_str() {
                    "asc" => Some(Direction::Asc),
                    "desc" => Some(Direction::Desc),
                    _ => None,
                };
                match (field, dir) {
                    (Some(field), Some(dir)) => (*field, dir),
                    _ => {
                        errors.push(FieldError::new(
                            "sort",
                            format!(
                                "must be 'field' or 'field,asc|desc' with field one of {}",
                                S::ALL
                                    .iter()
                                    .map(|f| f.wire_name())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                        default_sort
                    }
                }
            }
            Err(e) => {
                errors.push(e);
                default_sort
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::invalid_fields(errors));
        }
        Ok(Self {
            page,
            size,
            sort,
            direction,
        })
    }
}

impl<S> PageRequest<S> {
    pub fn offset(&self) -> u64 {
        u64::from(self.page) * u64::from(self.size)
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct SortObject {
    pub empty: bool,
    pub sorted: bool,
    pub unsorted: bool,
}

const SORTED: SortObject = SortObject {
    empty: false,
    sorted: true,
    unsorted: false,
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pageable {
    pub offset: u64,
    pub page_number: u32,
    pub page_size: u32,
    pub paged: bool,
    pub sort: SortObject,
    pub unpaged: bool,
}

/// Spring Data's `Page<T>` serialisation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub content: Vec<T>,
    pub empty: bool,
    pub first: bool,
    pub last: bool,
    pub number: u32,
    pub number_of_elements: u32,
    pub pageable: Pageable,
    pub size: u32,
    pub sort: SortObject,
    pub total_elements: u64,
    pub total_pages: u32,
}

impl<T> Page<T> {
    pub fn new<S>(content: Vec<T>, request: &PageRequest<S>, total_elements: u64) -> Self {
        let size = u64::from(request.size);
        let total_pages = u32::try_from(total_elements.div_ceil(size)).unwrap_or(u32::MAX);
        let number_of_elements = u32::try_from(content.len()).unwrap_or(u32::MAX);
        Self {
            empty: content.is_empty(),
            first: request.page == 0,
            last: u64::from(request.page) + 1 >= u64::from(total_pages),
            number: request.page,
            number_of_elements,
            pageable: Pageable {
                offset: request.offset(),
                page_number: request.page,
                page_size: request.size,
                paged: true,
                sort: SORTED,
                unpaged: false,
            },
            size: request.size,
            sort: SORTED,
            total_elements,
            total_pages,
            content,
        }
    }
}
