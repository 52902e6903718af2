//! A fake VIES REST service (`POST /check-vat-number`) whose answer per VAT number the test
//! chooses: valid (with registry name and address), invalid, each fault code inside an HTTP 200
//! body, faults as error statuses, slow answers, and plain 5xx.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::fake_http::{serve_async, FakeResponse};

#[derive(Debug, Clone)]
pub enum Vies {
    Valid {
        name: &'static str,
        address: &'static str,
    },
    Invalid,
    /// HTTP 200, `valid: false`, `userError` = the code (MS_UNAVAILABLE, TIMEOUT, …).
    Fault200(&'static str),
    /// An error status with `errorWrappers: [{"error": code}]`.
    FaultStatus(u16, &'static str),
    /// An error status with a body that is not VIES's.
    Status(u16),
    /// Answers valid, but only after this long.
    Slow(Duration),
}

/// The registry entry every number not configured otherwise has.
pub const DEFAULT_NAME: &str = "ACME CLOUD B.V.";
pub const DEFAULT_ADDRESS: &str = "KEIZERSGRACHT 1\n1015 CJ AMSTERDAM";

#[derive(Debug, Clone)]
pub struct FakeVies {
    pub url: String,
    answers: Arc<Mutex<HashMap<String, Vies>>>,
    requests: Arc<Mutex<Vec<Value>>>,
    concurrency: Arc<Mutex<Concurrency>>,
}

/// Requests in flight per country code, and the most seen at once.
#[derive(Debug, Default)]
struct Concurrency {
    in_flight: HashMap<String, usize>,
    peak: HashMap<String, usize>,
    peak_total: usize,
}

impl Concurrency {
    fn enter(&mut self, country: &str) {
        let now = {
            let n = self.in_flight.entry(country.to_owned()).or_default();
            *n += 1;
            *n
        };
        let peak = self.peak.entry(country.to_owned()).or_default();
        *peak = (*peak).max(now);
        self.peak_total = self.peak_total.max(self.in_flight.values().sum());
    }

    fn leave(&mut self, country: &str) {
        if let Some(n) = self.in_flight.get_mut(country) {
            *n = n.saturating_sub(1);
        }
    }
}

impl FakeVies {
    pub async fn start() -> Self {
        let answers: Arc<Mutex<HashMap<String, Vies>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
        let concurrency: Arc<Mutex<Concurrency>> = Arc::default();
        let (a, r, c) = (answers.clone(), requests.clone(), concurrency.clone());
        let url = serve_async(move |request| {
            let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
            r.lock().expect("requests").push(body.clone());
            let country = body["countryCode"].as_str().unwrap_or_default().to_owned();
            let number = format!(
                "{country}{}",
                body["vatNumber"].as_str().unwrap_or_default()
            );
            let answer = a
                .lock()
                .expect("answers")
                .get(&number)
                .cloned()
                .unwrap_or(Vies::Valid {
                    name: DEFAULT_NAME,
                    address: DEFAULT_ADDRESS,
                });
            let c = c.clone();
            async move {
                if request.method != "POST" || request.path != "/check-vat-number" {
                    return FakeResponse::json(404, "{}");
                }
                c.lock().expect("concurrency").enter(&country);
                let mut response = respond(&body, answer);
                // Slow answers are slow while they count as in flight.
                tokio::time::sleep(std::mem::take(&mut response.delay)).await;
                c.lock().expect("concurrency").leave(&country);
                response
            }
        })
        .await;
        Self {
            url,
            answers,
            requests,
            concurrency,
        }
    }

    /// The most requests for one country code that were in flight at once.
    pub fn peak_concurrency(&self, country: &str) -> usize {
        let c = self.concurrency.lock().expect("concurrency");
        c.peak.get(country).copied().unwrap_or(0)
    }

    /// The most requests in flight at once, all countries together.
    pub fn peak_total_concurrency(&self) -> usize {
        self.concurrency.lock().expect("concurrency").peak_total
    }

    /// How VIES answers for `vat` (canonical, with country prefix) from now on.
    pub fn answer(&self, vat: &str, answer: Vies) {
        self.answers
            .lock()
            .expect("answers")
            .insert(vat.to_owned(), answer);
    }

    /// The request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().expect("requests").clone()
    }
}

fn respond(request: &Value, answer: Vies) -> FakeResponse {
    let base = |valid: bool, user_error: &str| {
        json!({
            "countryCode": request["countryCode"],
            "vatNumber": request["vatNumber"],
            "requestDate": "2026-11-28T12:00:00.000Z",
            "valid": valid,
            "requestIdentifier": "",
            "name": "---",
            "address": "---",
            "traderName": "---",
            "userError": user_error
        })
    };
    match answer {
        Vies::Valid { name, address } => {
            let mut body = base(true, "VALID");
            body["name"] = json!(name);
            body["address"] = json!(address);
            FakeResponse::json(200, body.to_string())
        }
        Vies::Invalid => FakeResponse::json(200, base(false, "INVALID").to_string()),
        Vies::Fault200(code) => FakeResponse::json(200, base(false, code).to_string()),
        Vies::FaultStatus(status, code) => FakeResponse::json(
            status,
            json!({"actionSucceed": false, "errorWrappers": [{"error": code, "message": code}]})
                .to_string(),
        ),
        Vies::Status(status) => {
            let mut response = FakeResponse::json(status, "<html>Service Unavailable</html>");
            response.content_type = "text/html";
            response
        }
        Vies::Slow(delay) => {
            let mut body = base(true, "VALID");
            body["name"] = json!(DEFAULT_NAME);
            let mut response = FakeResponse::json(200, body.to_string());
            response.delay = delay;
            response
        }
    }
}

/// Writes `count` copies of a fresh organisation straight into `env`'s table, for the VAT
/// re-validation job: the `i`th with VAT number `numbers[i % len]`, slug `<prefix>-<i>`, and its
/// check due at `due(i)`. The organisation they are copied from (created through the API) is
/// taken off the schedule. Written 1,000 at a time; returns the copies' slugs.
pub async fn seed_vat_schedule(
    env: &crate::TestEnv,
    prefix: &str,
    numbers: &[&str],
    count: usize,
    due: impl Fn(usize) -> chrono::DateTime<chrono::Utc>,
) -> Vec<shared::domain::Slug> {
    use shared::domain::Slug;
    let admin = crate::TestUser::new(prefix);
    let created = crate::send(
        &env.app,
        crate::ApiRequest::post("/api/v1/organisations")
            .by(&admin)
            .json(json!({
                "organisationName": format!("{prefix} original"),
                "organisationType": "BUSINESS",
                "contactEmail": "ops@example.com",
                "vatNumber": numbers.first().copied().unwrap_or("NL004495445B01"),
                "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                                       {"agreementSlug": "privacy-policy"}]
            })),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let original =
        Slug::parse(created.body["slug"]["slugValue"].as_str().expect("a slug")).expect("a slug");
    env.store()
        .client()
        .update_item()
        .table_name(&env.table)
        .set_key(Some(
            shared::storage::keys::Key::profile(&original).into_item(),
        ))
        .update_expression("REMOVE gsi1pk, gsi1sk")
        .send()
        .await
        .expect("take the original off the schedule");
    let mut template = env
        .store()
        .organisation(&original)
        .await
        .expect("read")
        .expect("the profile");
    template.vat_next_check_at = None;
    let mut slugs = Vec::with_capacity(count);
    for start in (0..count).step_by(1000) {
        let copies: Vec<_> = (start..count.min(start + 1000))
            .map(|i| {
                let mut copy = template.clone();
                copy.slug = Slug::parse(&format!("{prefix}-{i}")).expect("a slug");
                copy.vat_code = numbers.get(i % numbers.len().max(1)).map(|n| n.to_string());
                copy.vat_next_check_at = Some(due(i));
                copy
            })
            .collect();
        env.store()
            .seed_all(&copies, &original)
            .await
            .expect("seed");
        slugs.extend(copies.into_iter().map(|c| c.slug));
    }
    slugs
}
