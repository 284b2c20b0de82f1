//! Admin endpoints for tests and demos (not part of ZATCA's API; no `Accept-Version`, no auth,
//! no fault injection): counters, faults, OTPs, issued CSIDs, the CA and stamp certificates. The
//! simulator binds only to 127.0.0.1, and these routes also refuse any peer that is not a
//! loopback address, so they stay reachable from this machine only.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{Faults, FaultsPatch};
use crate::state::{Counters, CsidInfo, SimState};

/// The admin routes.
pub(crate) fn router() -> Router<SimState> {
    let routes = Router::new()
        .route("/admin/health", get(health))
        .route("/admin/counters", get(counters).delete(reset_counters))
        .route("/admin/counters/reset", post(reset_counters))
        .route("/admin/faults", get(faults).post(patch_faults))
        .route("/admin/otp", post(issue_otp))
        .route("/admin/csids", get(csids))
        .route("/admin/ca", get(ca_certificate))
        .route("/admin/stamp", get(stamp_certificate));
    routes.route_layer(axum::middleware::from_fn(loopback_only))
}

/// Refuses admin calls from a non-loopback peer (in-process callers have no peer address).
async fn loopback_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    if peer.is_some_and(|ip| !ip.is_loopback()) {
        return (StatusCode::FORBIDDEN, "admin endpoints answer loopback clients only").into_response();
    }
    next.run(request).await
}

async fn health(State(state): State<SimState>) -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "environment": state.config().environment}))
}

async fn counters(State(state): State<SimState>) -> Json<Counters> {
    Json(state.counters())
}

async fn reset_counters(State(state): State<SimState>) -> StatusCode {
    state.reset_counters();
    StatusCode::NO_CONTENT
}

async fn faults(State(state): State<SimState>) -> Json<Faults> {
    Json(state.faults())
}

async fn patch_faults(State(state): State<SimState>, Json(patch): Json<FaultsPatch>) -> Json<Faults> {
    let faults = state.patch_faults(&patch);
    tracing::info!(?faults, "faults changed");
    Json(faults)
}

/// `POST /admin/otp` body; `{}` uses the configured TTL.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OtpRequest {
    ttl_secs: Option<u64>,
}

/// `POST /admin/otp` answer.
#[derive(Debug, Serialize)]
struct OtpResponse {
    otp: String,
    ttl_secs: u64,
}

async fn issue_otp(State(state): State<SimState>, body: Option<Json<OtpRequest>>) -> Json<OtpResponse> {
    let ttl = body
        .and_then(|Json(b)| b.ttl_secs)
        .map_or(state.config().otp_ttl, Duration::from_secs);
    let otp = state.issue_otp(ttl);
    Json(OtpResponse {
        otp,
        ttl_secs: ttl.as_secs(),
    })
}

async fn csids(State(state): State<SimState>) -> Json<Vec<CsidInfo>> {
    Json(state.csids())
}

async fn ca_certificate(State(state): State<SimState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.ca().certificate_pem(),
    )
        .into_response()
}

async fn stamp_certificate(State(state): State<SimState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.stamp_certificate_pem(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    use crate::{SimConfig, SimState, app};

    async fn admin_status(peer: Option<&str>) -> StatusCode {
        let mut request = Request::get("/admin/counters").body(Body::empty()).expect("request");
        if let Some(peer) = peer {
            let addr: SocketAddr = peer.parse().expect("addr");
            request.extensions_mut().insert(ConnectInfo(addr));
        }
        let router = app(SimState::new(SimConfig::default()));
        router.oneshot(request).await.expect("answer").status()
    }

    #[tokio::test]
    async fn admin_routes_answer_loopback_peers_only() {
        assert_eq!(admin_status(Some("127.0.0.1:5000")).await, StatusCode::OK);
        assert_eq!(admin_status(Some("[::1]:5000")).await, StatusCode::OK);
        assert_eq!(admin_status(None).await, StatusCode::OK);
        assert_eq!(admin_status(Some("10.1.2.3:5000")).await, StatusCode::FORBIDDEN);
        assert_eq!(admin_status(Some("192.168.0.7:5000")).await, StatusCode::FORBIDDEN);
    }
}
