//! A JSON-body fuzzer against the running relay (issue 14): valid request bodies of every POST
//! and PATCH route, mutated at random (fields dropped, values swapped for other JSON types,
//! extreme numbers, long and odd strings, deep nesting, truncated text), sent for a bounded
//! time. The relay must never answer 5xx and must keep answering. Seeded, so a failure repeats:
//! `RELAY_FUZZ_SEED=<seed> RELAY_FUZZ_SECONDS=<s> cargo test -p zatca-relay --test fuzz_bodies`.

mod common;

use std::time::{Duration, Instant};

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

/// xorshift64*: enough randomness for mutations, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// A replacement value of some other JSON shape.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!(0.000_000_1),
        6 => json!(""),
        7 => json!("x".repeat(10_000)),
        8 => json!("فاتورة \u{202e}\u{0000}\u{feff} 🧾"),
        9 => json!([]),
        10 => json!({}),
        11 => json!("2025-02-30"),
        12 => json!("-99999999999999999999.999999"),
        _ => {
            let depth = 1 + rng.below(60);
            let mut v = json!(1);
            for _ in 0..depth {
                v = json!([v]);
            }
            v
        }
    }
}

/// Mutates one randomly chosen place of the value (recursively into objects and arrays).
fn mutate(value: &mut Value, rng: &mut Rng) {
    match value {
        Value::Object(map) if !map.is_empty() && rng.below(4) != 0 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.below(keys.len())];
            match rng.below(4) {
                0 => {
                    map.remove(key);
                }
                1 => {
                    if let Some(v) = map.get_mut(key) {
                        mutate(v, rng);
                    }
                }
                2 => {
                    map.insert(key.clone(), odd_value(rng));
                }
                _ => {
                    map.insert(format!("{key}_extra"), odd_value(rng));
                }
            }
        }
        Value::Array(items) if !items.is_empty() && rng.below(4) != 0 => {
            let i = rng.below(items.len());
            match rng.below(3) {
                0 => {
                    items.remove(i);
                }
                1 => mutate(&mut items[i], rng),
                _ => {
                    let copy = items[i].clone();
                    for _ in 0..rng.below(300) {
                        items.push(copy.clone());
                    }
                }
            }
        }
        other => *other = odd_value(rng),
    }
}

fn seller() -> Value {
    json!({
        "name": "Acme Ltd",
        "vat_number": "300012345600003",
        "address": { "street": "King Fahd Rd", "city": "Riyadh", "country": "SA", "building_number": "1234",
                     "district": "Al Olaya", "postal_code": "12211" },
        "crn": "1010101010"
    })
}

/// The routes with a valid body each.
fn templates(unit: &str, key_id: &str, original: &str) -> Vec<(Method, String, Value)> {
    let invoice = json!({
        "egs_unit_id": unit, "invoice_number": "FZ-1", "invoice_date": "2025-01-15", "invoice_time": "14:30:00",
        "seller": seller(),
        "line_items": [{ "description": "Product A", "quantity": 2, "unit_price": 50.0, "vat_rate": 15 }],
    });
    let mut standard = invoice.clone();
    standard["buyer"] = json!({ "name": "Client Co", "vat_number": "300098765400003",
        "address": { "street": "Olaya St", "city": "Riyadh", "country": "SA" } });
    let mut note = invoice.clone();
    note["original_invoice_uuid"] = json!(original);
    note["reason"] = json!("Goods returned");
    vec![
        (Method::POST, "/v1/invoices/simplified".into(), invoice),
        (Method::POST, "/v1/invoices/standard".into(), standard),
        (Method::POST, "/v1/invoices/credit-note".into(), note.clone()),
        (Method::POST, "/v1/invoices/debit-note".into(), note),
        (
            Method::POST,
            "/v1/invoices/signed".into(),
            json!({ "egs_unit_id": unit, "invoice": "PEludm9pY2UvPg==", "invoice_hash": "x", "uuid": "y" }),
        ),
        (
            Method::POST,
            "/v1/egs".into(),
            json!({ "unit_name": "Fuzz", "invoice_type": "simplified", "seller": seller(), "phase": 2 }),
        ),
        (
            Method::POST,
            "/v1/keys".into(),
            json!({ "name": "fuzz", "default_egs_unit_id": unit }),
        ),
        (
            Method::PATCH,
            format!("/v1/keys/{key_id}"),
            json!({ "name": "renamed", "default_egs_unit_id": unit }),
        ),
        (
            Method::POST,
            "/v1/onboard".into(),
            json!({ "name": "Fuzz Co", "email": "a@b.c", "environment": "sandbox" }),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_json_bodies_never_get_a_5xx() {
    let t = TestRelay::start_with(|c| c.inline_submit_ms = 0).await;
    let key = t.http.onboard("sandbox").await;
    let (unit, _) = t
        .http
        .active_unit(
            &key,
            json!({"unit_name": "POS", "invoice_type": "both", "seller": seller()}),
        )
        .await;
    let (_, keys) = t.http.get("/v1/keys", &key).await;
    let key_id = keys["data"][0]["id"]
        .as_str()
        .or_else(|| keys[0]["id"].as_str())
        .unwrap_or("00000000-0000-0000-0000-000000000000")
        .to_owned();
    let routes = templates(&unit, &key_id, "00000000-0000-0000-0000-000000000000");
    let seed = std::env::var("RELAY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026_u64);
    let seconds = std::env::var("RELAY_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let mut rng = Rng(seed | 1);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut sent = 0u32;
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    while Instant::now() < deadline {
        let (method, path, template) = &routes[rng.below(routes.len())];
        let mut body = template.clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut body, &mut rng);
        }
        let mut text = serde_json::to_string(&body).unwrap_or_default();
        if rng.below(10) == 0 {
            // Not even JSON: cut short.
            let mut cut = rng.below(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let response = client
            .request(method.clone(), format!("{}{path}", t.http.base))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(text.clone())
            .send()
            .await
            .expect("the relay answers");
        let status = response.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status < 500,
            "{method} {path} answered {status} {answer} to (seed {seed}, request {sent}): {}",
            &text[..text.len().min(2000)]
        );
        if status >= 400 {
            assert!(answer["error"]["code"].is_string(), "no envelope: {answer}");
        }
        sent += 1;
    }
    assert!(sent > 50, "only {sent} requests in {seconds} s");
    eprintln!("fuzzed {sent} bodies (seed {seed}): statuses {statuses:?}");
    assert_eq!(t.http.get("/v1/account", &key).await.0, 200, "still answering");
    t.relay.shutdown().await.expect("shutdown");
}
