//! Rows of either database decoded into the domain's entities. Each backend says how it reads
//! one column ([`Columns`]: SQLite keeps UUIDs as text and flags as integers, PostgreSQL has
//! native types); the decoders here say, once for both, which columns make an entity.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{StoreError, StoreResult, from_millis};
use crate::domain::{
    Account, ApiKey, AuditEntry, ComplianceDocument, EgsUnit, EventType, Invoice, Job, StoredCsid, TimelineEntry,
    WebhookDelivery, WebhookEndpoint, WebhookEvent,
};

/// A stored value that is not what the relay wrote.
pub(super) fn decode_err(column: &str, detail: impl fmt::Display) -> StoreError {
    StoreError::Decode {
        column: column.to_owned(),
        detail: detail.to_string(),
    }
}

/// One result row, read by column name. Times are Unix milliseconds and JSON is text in both
/// databases, so those readers are shared.
pub(super) trait Columns {
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>>;
    /// Any integer column (SQLite's INTEGER, PostgreSQL's SMALLINT, INTEGER or BIGINT).
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>>;
    fn opt_uuid(&self, name: &str) -> StoreResult<Option<Uuid>>;
    fn flag(&self, name: &str) -> StoreResult<bool>;
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>>;

    fn text(&self, name: &str) -> StoreResult<String> {
        self.opt_text(name)?.ok_or_else(|| decode_err(name, "NULL"))
    }
    fn int(&self, name: &str) -> StoreResult<i64> {
        self.opt_int(name)?.ok_or_else(|| decode_err(name, "NULL"))
    }
    fn uuid(&self, name: &str) -> StoreResult<Uuid> {
        self.opt_uuid(name)?.ok_or_else(|| decode_err(name, "NULL"))
    }
    /// An integer column that must fit `T` (a count, a status code, a phase).
    fn small<T: TryFrom<i64>>(&self, name: &str) -> StoreResult<T>
    where
        T::Error: fmt::Display,
    {
        T::try_from(self.int(name)?).map_err(|e| decode_err(name, e))
    }
    fn opt_small<T: TryFrom<i64>>(&self, name: &str) -> StoreResult<Option<T>>
    where
        T::Error: fmt::Display,
    {
        self.opt_int(name)?
            .map(|n| T::try_from(n).map_err(|e| decode_err(name, e)))
            .transpose()
    }
    fn time(&self, name: &str) -> StoreResult<DateTime<Utc>> {
        Ok(from_millis(self.int(name)?))
    }
    fn opt_time(&self, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.opt_int(name)?.map(from_millis))
    }
    /// A text column holding one of an enum's names.
    fn parse<T: FromStr<Err = String>>(&self, name: &str) -> StoreResult<T> {
        self.text(name)?.parse().map_err(|e: String| decode_err(name, e))
    }
    fn decimal(&self, name: &str) -> StoreResult<rust_decimal::Decimal> {
        self.text(name)?.parse().map_err(|e| decode_err(name, e))
    }
    fn json<T: DeserializeOwned>(&self, name: &str) -> StoreResult<T> {
        serde_json::from_str(&self.text(name)?).map_err(|e| decode_err(name, e))
    }
    fn opt_json<T: DeserializeOwned>(&self, name: &str) -> StoreResult<Option<T>> {
        self.opt_text(name)?
            .map(|text| serde_json::from_str(&text).map_err(|e| decode_err(name, e)))
            .transpose()
    }
}

/// An account, its columns named with `prefix` (joined queries read it beside a key).
pub(super) fn account(row: &impl Columns, prefix: &str) -> StoreResult<Account> {
    Ok(Account {
        id: row.uuid(&format!("{prefix}id"))?,
        name: row.opt_text(&format!("{prefix}name"))?,
        email: row.opt_text(&format!("{prefix}email"))?,
        plan: row.text(&format!("{prefix}plan"))?,
        created_at: row.time(&format!("{prefix}created_at"))?,
    })
}

pub(super) fn api_key(row: &impl Columns) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: row.uuid("id")?,
        account_id: row.uuid("account_id")?,
        name: row.opt_text("name")?,
        environment: row.parse("environment")?,
        key_hash: row.bytes("key_hash")?,
        masked: row.text("masked")?,
        default_egs_unit_id: row.opt_uuid("default_egs_unit_id")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

/// The compliance or production CSID of a unit (`which`), when ZATCA issued it.
fn csid(row: &impl Columns, which: &str) -> StoreResult<Option<StoredCsid>> {
    let token = row.opt_text(&format!("{which}_token"))?;
    let secret = row.opt_text(&format!("{which}_secret_enc"))?;
    let request_id = row.opt_text(&format!("{which}_request_id"))?;
    Ok(match (token, secret) {
        (Some(token), Some(secret_enc)) => Some(StoredCsid {
            token,
            secret_enc,
            // Written with every CSID; rows from before it was kept have none.
            request_id: request_id.unwrap_or_default(),
        }),
        _ => None,
    })
}

pub(super) fn unit(row: &impl Columns) -> StoreResult<EgsUnit> {
    Ok(EgsUnit {
        id: row.uuid("id")?,
        account_id: row.uuid("account_id")?,
        unit_name: row.text("unit_name")?,
        environment: row.parse("environment")?,
        phase: row.small("phase")?,
        invoice_type: row.parse("invoice_type")?,
        custody: row.parse("custody")?,
        serial_number: row.text("serial_number")?,
        egs_serial: row.opt_text("egs_serial")?,
        seller: row.json("seller")?,
        onboarding_status: row.parse("onboarding_status")?,
        status_message: row.opt_text("status_message")?,
        errors: row.opt_json("errors")?.unwrap_or_default(),
        csr_pem: row.opt_text("csr_pem")?,
        private_key_enc: row.opt_text("private_key_enc")?,
        compliance: csid(row, "compliance")?,
        production: csid(row, "production")?,
        cert_issued_at: row.opt_time("cert_issued_at")?,
        cert_expires_at: row.opt_time("cert_expires_at")?,
        compliance_attempted_at: row.opt_time("compliance_attempted_at")?,
        chain_note: row.opt_text("chain_note")?,
        invoice_counter: row.int("invoice_counter")?,
        last_invoice_hash: row.text("last_invoice_hash")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(super) fn job(row: &impl Columns) -> StoreResult<Job> {
    let kind = row.text("kind")?;
    let payload: serde_json::Value = row.json("payload")?;
    Ok(Job {
        id: row.uuid("id")?,
        egs_unit_id: row.uuid("egs_unit_id")?,
        kind: serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload }))
            .map_err(|e| decode_err("kind", e))?,
        attempts: u32::try_from(row.int("attempts")?).unwrap_or(u32::MAX),
        not_before: None,
    })
}

pub(super) fn audit(row: &impl Columns) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: row.int("id")?,
        egs_unit_id: row.uuid("egs_unit_id")?,
        at: row.time("at")?,
        operation: row.text("operation")?,
        method: row.text("method")?,
        url: row.text("url")?,
        request_headers: row.json("request_headers")?,
        request_body: row.opt_text("request_body")?,
        response_status: row.opt_small("response_status")?,
        response_body: row.opt_text("response_body")?,
        duration_ms: row.small("duration_ms")?,
        error: row.opt_text("error")?,
    })
}

pub(super) fn invoice(row: &impl Columns) -> StoreResult<Invoice> {
    Ok(Invoice {
        id: row.uuid("id")?,
        account_id: row.uuid("account_id")?,
        egs_unit_id: row.uuid("egs_unit_id")?,
        environment: row.parse("environment")?,
        uuid: row.text("uuid")?,
        invoice_number: row.text("invoice_number")?,
        invoice_type: row.parse("invoice_type")?,
        document_type: row.parse("document_type")?,
        status: row.parse("status")?,
        icv: row.int("icv")?,
        invoice_hash: row.text("invoice_hash")?,
        currency: row.text("currency")?,
        subtotal: row.decimal("subtotal")?,
        vat: row.decimal("vat")?,
        total: row.decimal("total")?,
        invoice_date: row.text("invoice_date")?,
        invoice_time: row.text("invoice_time")?,
        qr_code: row.opt_text("qr_code")?,
        original_invoice_id: row.opt_uuid("original_invoice_id")?,
        has_buyer: row.flag("has_buyer")?,
        device_signed: row.flag("device_signed")?,
        chain: row.opt_json("chain")?,
        line_items: row.json("line_items")?,
        messages: row.json("messages")?,
        report_deadline: row.opt_time("report_deadline")?,
        reported_at: row.opt_time("reported_at")?,
        cleared_at: row.opt_time("cleared_at")?,
        idempotency_key: row.opt_text("idempotency_key")?,
        request_hash: row.opt_text("request_hash")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(super) fn compliance_document(row: &impl Columns) -> StoreResult<ComplianceDocument> {
    Ok(ComplianceDocument {
        kind: row.parse("kind")?,
        icv: row.int("icv")?,
        uuid: row.text("uuid")?,
        invoice_hash: row.text("invoice_hash")?,
        messages: row.json("messages")?,
        accepted_at: row.time("accepted_at")?,
    })
}

pub(super) fn timeline_entry(row: &impl Columns) -> StoreResult<TimelineEntry> {
    Ok(TimelineEntry {
        status: row.parse("status")?,
        at: row.time("at")?,
        // Entries without messages store NULL.
        messages: row.opt_json("messages")?.unwrap_or_default(),
    })
}

pub(super) fn webhook_endpoint(row: &impl Columns) -> StoreResult<WebhookEndpoint> {
    let events: Vec<String> = row.json("events")?;
    Ok(WebhookEndpoint {
        id: row.uuid("id")?,
        account_id: row.uuid("account_id")?,
        environment: row.parse("environment")?,
        url: row.text("url")?,
        description: row.opt_text("description")?,
        events: events
            .iter()
            .map(|e| e.parse::<EventType>().map_err(|err| decode_err("events", err)))
            .collect::<StoreResult<_>>()?,
        secret_enc: row.text("secret_enc")?,
        enabled: row.flag("enabled")?,
        disabled_reason: row.opt_text("disabled_reason")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(super) fn webhook_event(row: &impl Columns) -> StoreResult<WebhookEvent> {
    Ok(WebhookEvent {
        id: row.uuid("id")?,
        account_id: row.uuid("account_id")?,
        environment: row.parse("environment")?,
        egs_unit_id: row.uuid("egs_unit_id")?,
        event_type: row.parse("type")?,
        body: row.text("body")?,
        created_at: row.time("created_at")?,
    })
}

pub(super) fn webhook_delivery(row: &impl Columns) -> StoreResult<WebhookDelivery> {
    Ok(WebhookDelivery {
        endpoint_id: row.uuid("endpoint_id")?,
        event_id: row.uuid("event_id")?,
        event_type: row.parse("event_type")?,
        attempt: row.small("attempt")?,
        status: row.parse("status")?,
        response_status: row.opt_small("response_status")?,
        duration_ms: row.small("duration_ms")?,
        error: row.opt_text("error")?,
        at: row.time("at")?,
    })
}
