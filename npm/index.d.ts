// Type declarations of @zatca-kit/zatca (browser entry index.js and Node entry node.js share
// them). Hand-written and checked: `tsc` runs over this file, the generated module
// declarations and test/types/usage.ts; test/contract.test.mjs compares the input interfaces
// with the core's JSON contract (wasm/core/src/model.rs) and ZatcaErrorCode with every error
// code of the core, the bindings and lib/.

// ---------------------------------------------------------------- loading

/** Where to load a WebAssembly module from (browser: URL/Response/bytes; Node: path/bytes). */
export type WasmSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;

export interface InitOptions {
  /** Override the module location (default: the .wasm file shipped next to the package). */
  module?: WasmSource;
}

/**
 * Loads the signing module (build, sign, hash, chain, certificate info, QR decoding). Call once
 * before any synchronous function; later calls return at once.
 */
export function init(options?: InitOptions): Promise<void>;
export default init;
/**
 * Loads the tools module (verify, keys, CSR, QR encoding and images) and, when not loaded yet,
 * the signing module from its default location (call `init({ module })` first to override it).
 */
export function initTools(options?: InitOptions): Promise<void>;
/**
 * Loads the PDF module (`renderPdf`: the bilingual PDF/A-3b of a signed document, fonts
 * included, about 2 MB) and, when not loaded yet, the signing module from its default location.
 */
export function initPdf(options?: InitOptions): Promise<void>;

/**
 * Loads the validation module (`validate`: the UBL 2.1 structure and ZATCA's rules). It is
 * independent of the signing module, so a page that only validates loads only this one.
 */
export function initRules(options?: InitOptions): Promise<void>;

/** `zatca-wasm` version, `+` git commit when known. */
export function version(): string;

// ---------------------------------------------------------------- input contract (model.rs)

/** A decimal amount: a JSON number, or a string for exact decimals (`"10.005"`). */
export type Decimal = number | string;

export type InvoiceType = "simplified" | "standard";
export type DocumentType = "invoice" | "credit_note" | "debit_note";
/** VAT category (BR-KSA-18): standard, zero rated, exempt, out of scope. */
export type VatCategory = "S" | "Z" | "E" | "O";

/** A postal address. ZATCA's requirements on it are checked when building. */
export interface Address {
  street?: string | null;
  /** 4 digits in KSA (KSA-17 / KSA-18). */
  building_number?: string | null;
  /** Additional number of the national address (KSA-23). */
  additional_number?: string | null;
  district?: string | null;
  city?: string | null;
  /** 5 digits in KSA. */
  postal_code?: string | null;
  /** ISO 3166-1 alpha-2. */
  country?: string | null;
}

/** An identifier with its scheme (`CRN`, `MOM`, `NAT`, `TIN`, …). */
export interface PartyId {
  scheme: string;
  value: string;
}

/** Seller or buyer. */
export interface Party {
  name?: string | null;
  /** Arabic name, written as `name | name_ar`. */
  name_ar?: string | null;
  /** 15 digits, starting and ending with 3. */
  vat_number?: string | null;
  /** Commercial registration number (scheme CRN). */
  crn?: string | null;
  /** Another identifier, used when there is no CRN. */
  other_id?: PartyId | null;
  address?: Address | null;
}

/** One invoice line. */
export interface LineItem {
  description: string;
  description_ar?: string | null;
  /** At least 0.0001. */
  quantity: Decimal;
  /** Net of VAT unless the invoice's `prices_include_vat`. */
  unit_price: Decimal;
  /** UN/ECE Rec 20 unit code, default `PCE`. */
  unit_code?: string | null;
  /** Default `S`. */
  vat_category?: VatCategory | null;
  /** Percent; default 15 for `S`, 0 otherwise. */
  vat_rate?: Decimal | null;
  /** VATEX-SA-* code for Z/E/O lines. */
  exemption_reason_code?: string | null;
  /** Exemption text (the official English text when omitted). */
  exemption_reason?: string | null;
  /** Line discount amount, in the document currency. */
  discount?: Decimal | null;
}

/** KSA-2 transaction flags. */
export interface TransactionFlags {
  third_party?: boolean | null;
  nominal?: boolean | null;
  export?: boolean | null;
  summary?: boolean | null;
  self_billed?: boolean | null;
  continuous_supply?: boolean | null;
  b2g?: boolean | null;
}

/** The invoice JSON contract shared by the npm package, the CLI and the relay. */
export interface InvoiceInput {
  /** EGS unit routing (used by the relay; ignored when building). */
  egs_unit_id?: string | null;
  /** BT-1. */
  invoice_number: string;
  /** `YYYY-MM-DD`. */
  invoice_date: string;
  /** `HH:mm:ss`, Saudi local time. */
  invoice_time: string;
  /** ISO 4217, default `SAR`. */
  currency?: string | null;
  /** Default `simplified`. */
  invoice_type?: InvoiceType | null;
  /** Default `invoice`. */
  document_type?: DocumentType | null;
  seller: Party;
  /** Optional on simplified documents. */
  buyer?: Party | null;
  line_items: LineItem[];
  /** Whether `unit_price` includes VAT (default false). */
  prices_include_vat?: boolean | null;
  /** Supply date (KSA-5). */
  delivery_date?: string | null;
  /** Supply end date (KSA-24). */
  delivery_end_date?: string | null;
  /** UNTDID 4461, default `10` (cash). */
  payment_means_code?: string | null;
  /** Notes: the original invoice number. */
  original_invoice_number?: string | null;
  /** Notes: the original invoice UUID. */
  original_invoice_uuid?: string | null;
  /** Notes: reason (KSA-10). */
  reason?: string | null;
  reason_ar?: string | null;
  note?: string | null;
  /** BT-12, required for B2G. */
  contract_id?: string | null;
  /** BT-13. */
  purchase_order_id?: string | null;
  transaction_flags?: TransactionFlags | null;
  /** SAR per unit of the document currency; required when `currency` is not SAR. */
  sar_exchange_rate?: Decimal | null;
}

/** A document's place in its EGS unit's chain. */
export interface ChainInputs {
  /** Invoice counter value (KSA-16). */
  icv: number;
  /** Previous invoice hash (KSA-13), base64; INITIAL_PIH for the first document. */
  pih: string;
  /** Document UUID (KSA-1). */
  uuid: string;
}

export interface SignOptions {
  /** `yyyy-MM-ddTHH:mm:ss`; default: the document's issue date and time. */
  signing_time?: string;
  /**
   * Sign with a certificate issued for another key (the developer-portal sandbox hands out a
   * fixed certificate whatever the CSR).
   */
  unchecked_certificate?: boolean;
}

/** A key you hold and its certificate. `key` (PEM text or DER bytes) is never modified. */
export interface Signer {
  key: string | Uint8Array;
  /** PEM, base64 DER, or a CSID binarySecurityToken. */
  certificate: string;
}

// ---------------------------------------------------------------- results

export type Severity = "error" | "warning";

/** One finding. */
export interface Issue {
  code: ZatcaErrorCode;
  /** JSON path of the input field (`line_items[2].quantity`), or null. */
  path: string | null;
  message: string;
  /** ZATCA / EN 16931 rule id (`BR-KSA-40`), or null. */
  rule: string | null;
  severity: Severity;
}

/** Totals of one line; amounts are exact decimal strings. */
export interface LineTotals {
  net_price: string;
  discount: string;
  net: string;
  vat: string;
  with_vat: string;
}

/** One VAT breakdown (BG-23). */
export interface Subtotal {
  category: VatCategory;
  rate: string;
  exemption_code: string | null;
  exemption_reason: string | null;
  taxable: string;
  vat: string;
}

/** Document totals; amounts are exact decimal strings. */
export interface Totals {
  lines: LineTotals[];
  subtotals: Subtotal[];
  line_extension: string;
  allowance_total: string;
  charge_total: string;
  tax_exclusive: string;
  vat_total: string;
  vat_total_sar: string;
  tax_inclusive: string;
  prepaid: string;
  payable: string;
}

export interface BuiltInvoice {
  /** Unsigned UBL 2.1 XML. */
  xml: string;
  /** ZATCA warnings (accepted with HTTP 202). */
  warnings: Issue[];
  totals: Totals;
}

export interface SignedInvoice {
  /** Signed XML, to be sent as is (base64 of its UTF-8 bytes). */
  xml: string;
  /** Invoice hash, base64: the API's `invoiceHash` and the next document's PIH. */
  hash: string;
  /** ECDSA signature, base64 DER. */
  signature: string;
  /** QR payload, base64 TLV. */
  qr: string;
  uuid: string;
  icv: number | null;
  signing_time: string;
  warnings: Issue[];
}

/** The ZATCA attributes of a certificate's subjectAltName. */
export interface SanFields {
  serial_number: string | null;
  organization_identifier: string | null;
  invoice_type: string | null;
  location_address: string | null;
  industry_business_category: string | null;
}

/** Public information of a certificate (CSID). */
export interface CertificateInfo {
  /** One-line base64 DER (`ds:X509Certificate`). */
  base64: string;
  pem: string;
  binary_security_token: string;
  subject_name: string;
  subject_common_name: string | null;
  issuer_name: string;
  serial_decimal: string;
  /** Unix seconds. */
  not_before: number;
  /** Unix seconds. */
  not_after: number;
  san: SanFields;
  cert_digest: string;
  /** SubjectPublicKeyInfo DER (QR tag 8). */
  public_key: Uint8Array;
  /** The CA's signature, DER (QR tag 9). */
  signature: Uint8Array;
}

export interface Verification {
  /** No issue found. */
  ok: boolean;
  issues: Issue[];
  /** Recomputed invoice hash. */
  hash: string;
  uuid: string;
  icv: number | null;
  pih: string | null;
  invoice_type_code: string;
  transaction_code: string;
  is_simplified: boolean;
  issue_date: string;
  issue_time: string;
  seller_vat: string;
  certificate: CertificateInfo | null;
  qr: QrFields | null;
}

export interface VerifyOptions {
  /** The hash of the previous document: the document's PIH must equal it. */
  expectedPih?: string;
}

// ---------------------------------------------------------------- QR

/** The fields of a ZATCA QR code (tags 1–9). Tags 8 and 9 are base64 of their DER bytes. */
export interface QrFields {
  seller_name: string;
  vat_number: string;
  /** `IssueDate` + `T` + `IssueTime`. */
  timestamp: string;
  total_with_vat: string;
  vat_total: string;
  invoice_hash?: string;
  signature?: string;
  public_key?: string;
  certificate_signature?: string;
}

export type QrFieldName = keyof QrFields;

/** One raw TLV of a QR payload. */
export interface QrTlv {
  tag: number;
  name: QrFieldName | null;
  value: Uint8Array;
  /** The value as UTF-8 text, or null. */
  text: string | null;
}

// ---------------------------------------------------------------- CSR

/** The EGS unit's CSR configuration (the SDK's csr-config.properties, snake_case). */
export interface CsrConfig {
  common_name: string;
  /** `1-<solution>|2-<model>|3-<serial>`. */
  serial_number: string;
  /** VAT number. */
  organization_identifier: string;
  organization_unit: string;
  organization_name: string;
  country: string;
  /** Four 0/1 flags, e.g. `1100`. */
  invoice_type: string;
  location_address: string;
  industry_business_category: string;
}

export type Environment = "sandbox" | "simulation" | "production";

export interface Csr {
  pem: string;
  der: Uint8Array;
  /** base64 of the PEM: the `csr` field of ZATCA's /compliance request. */
  api_base64: string;
}

export interface ParsedCsr {
  config: CsrConfig;
  template_name: string;
  environment: Environment | null;
  /** SubjectPublicKeyInfo DER. */
  public_key: Uint8Array;
}

// ---------------------------------------------------------------- functions

/** PIH of an EGS unit's first document. */
export const INITIAL_PIH: string;

/** Validates the input and writes the unsigned UBL 2.1 XML. Signing module. */
export function buildInvoice(input: InvoiceInput | string, chain: ChainInputs): BuiltInvoice;
/** Builds and signs an invoice with a key you hold. Signing module. */
export function signInvoice(
  input: InvoiceInput | string,
  chain: ChainInputs,
  signer: Signer,
  options?: SignOptions,
): SignedInvoice;
/** Signs an unsigned (or re-signs a signed) UBL invoice. Signing module. */
export function signXml(xml: string | Uint8Array, signer: Signer, options?: SignOptions): SignedInvoice;
/** Invoice hash (base64) of a document, signed or not. Signing module. */
export function invoiceHash(xml: string | Uint8Array): string;
/** Removes the signature blocks, keeping every other byte. Signing module. */
export function stripSignature(xml: string | Uint8Array): string;
/** The PIH of the next document: the hash of this signed one. Signing module. */
export function nextPih(signedXml: string | Uint8Array): string;
/** Whether a string is a valid PIH. Signing module. */
export function isValidPih(pih: string): boolean;
/** Describes a certificate (PEM, base64 DER or binarySecurityToken). Signing module. */
export function certificateInfo(certificate: string): CertificateInfo;
/** Decodes a QR payload into its fields. Signing module. */
export function qrDecode(qr: string): QrFields;
/** Decodes a QR payload into raw TLVs. Signing module. */
export function qrDecodeTlv(qr: string): QrTlv[];
/** One `tag name: value` line per TLV. Signing module. */
export function qrDescribe(qr: string): string;

/** Verifies a signed document as ZATCA does; findings in `issues`. Tools module. */
export function verifyInvoice(xml: string | Uint8Array, options?: VerifyOptions): Verification;
/** The QR payload embedded in a document. Tools module. */
export function embeddedQr(xml: string | Uint8Array): string;
/** Builds the onboarding CSR with a key you hold (not modified). Tools module. */
export function buildCsr(config: CsrConfig, key: string | Uint8Array, environment: Environment): Csr;
/** Parses a CSR (PEM, DER, or base64 of PEM) and checks its signature. Tools module. */
export function parseCsr(csr: string | Uint8Array): ParsedCsr;
/** Reads the ZATCA SDK's csr-config.properties text. Tools module. */
export function csrConfigFromProperties(properties: string): CsrConfig;
/** Encodes QR fields as base64 TLV. Tools module. */
export function qrEncode(fields: QrFields): string;
/** The QR symbol as an SVG document. Tools module. */
export function qrSvg(qr: string): string;
/** The QR symbol as PNG bytes, `modulePx` (1–32, default 6) pixels per module. Tools module. */
export function qrPng(qr: string, modulePx?: number): Uint8Array;
/** SubjectPublicKeyInfo DER of a private key you hold (not modified). Tools module. */
export function publicKeyOf(key: string | Uint8Array): Uint8Array;

// ---------------------------------------------------------------- PDF module

/**
 * The invoice people read: an A4 PDF/A-3b of a signed or cleared document (Arabic beside
 * English, every amount as in the XML, the QR code, the XML embedded). PDF module (`initPdf()`).
 */
export function renderPdf(xml: string | Uint8Array): Uint8Array;

// ---------------------------------------------------------------- errors

/** Every code a ZatcaError or an Issue can carry. */
export type ZatcaErrorCode =
  | "amount_overflow"
  | "cert_digest_mismatch"
  | "chain_conflict"
  | "chain_locked"
  | "crypto_unavailable"
  | "discount_exceeds_line"
  | "empty_value"
  | "exchange_rate_one"
  | "field_too_long"
  | "forbidden_character"
  | "incomplete_buyer_address"
  | "incomplete_seller_address"
  | "internal"
  | "invalid_argument"
  | "invalid_backup"
  | "invalid_building_number"
  | "invalid_buyer_id"
  | "invalid_buyer_id_scheme"
  | "invalid_certificate"
  | "invalid_character"
  | "invalid_country"
  | "invalid_country_code"
  | "invalid_csr"
  | "invalid_csr_config"
  | "invalid_csr_signature"
  | "invalid_currency"
  | "invalid_date"
  | "invalid_delivery_period"
  | "invalid_description"
  | "invalid_egs_serial"
  | "invalid_environment"
  | "invalid_exchange_rate"
  | "invalid_exemption_reason_code"
  | "invalid_group_member_tin"
  | "invalid_icv"
  | "invalid_id_format"
  | "invalid_invoice_number"
  | "invalid_invoice_type"
  | "invalid_json"
  | "invalid_number"
  | "invalid_payment_means_code"
  | "invalid_pih"
  | "invalid_postal_code"
  | "invalid_private_key"
  | "invalid_public_key"
  | "invalid_qr"
  | "invalid_qr_module_size"
  | "invalid_qr_tag"
  | "invalid_quantity"
  | "invalid_seller_id"
  | "invalid_seller_id_scheme"
  | "invalid_signature"
  | "invalid_signature_information"
  | "invalid_signature_reference"
  | "invalid_signing_time"
  | "invalid_time"
  | "invalid_transaction_flags"
  | "invalid_type"
  | "invalid_unit_price"
  | "invalid_uuid"
  | "invalid_value"
  | "invalid_vat_number"
  | "invalid_vat_rate"
  | "invalid_xml"
  | "invoice_hash_mismatch"
  | "issuer_name_mismatch"
  | "key_certificate_mismatch"
  | "key_exists"
  | "missing_billing_reference"
  | "missing_buyer"
  | "missing_buyer_id"
  | "missing_buyer_name"
  | "missing_buyer_national_id"
  | "missing_certificate"
  | "missing_contract_id"
  | "missing_delivery_date"
  | "missing_delivery_period"
  | "missing_element"
  | "missing_exchange_rate"
  | "missing_exemption_reason"
  | "missing_exemption_reason_text"
  | "missing_field"
  | "missing_icv"
  | "missing_line_items"
  | "missing_pih"
  | "missing_qr"
  | "missing_qr_tag"
  | "missing_reason"
  | "missing_seller_id"
  | "missing_signature"
  | "missing_signature_value"
  | "missing_signed_properties"
  | "missing_uuid"
  | "missing_vat_number"
  | "namespace_conflict"
  | "negative_amount"
  | "no_certificate"
  | "no_key"
  | "not_an_invoice"
  | "not_initialized"
  | "pih_mismatch"
  | "qr_hash_mismatch"
  | "qr_mismatch"
  | "qr_too_long"
  | "qr_value_too_long"
  | "random_unavailable"
  | "required_field"
  | "same_vat_number"
  | "seller_name_too_long"
  | "serial_number_mismatch"
  | "signed_properties_digest_mismatch"
  | "storage_failed"
  | "storage_unavailable"
  | "unexpected_exchange_rate"
  | "unexpected_exemption_reason"
  | "unknown_field"
  | "unsupported_character"
  | "unsupported_curve"
  | "unsupported_document_type"
  | "vault_corrupted"
  | "wasm_load_failed"
  | "weak_passphrase"
  | "wrong_passphrase"
  | "xml_not_utf8";

/** The one error type: thrown by every function; `instanceof ZatcaError` works for all of them. */
export class ZatcaError extends Error {
  constructor(code: ZatcaErrorCode, message: string, options?: { path?: string | null; rule?: string | null; cause?: unknown });
  readonly name: "ZatcaError";
  /** Code of the primary issue. */
  readonly code: ZatcaErrorCode;
  /** JSON path of the primary issue, or null. */
  readonly path: string | null;
  /** ZATCA rule of the primary issue, or null. */
  readonly rule: string | null;
  readonly severity: Severity;
  /** Every issue found (errors first, then warnings). */
  readonly issues: Issue[];
}
export function isZatcaError(value: unknown): value is ZatcaError;

// ---------------------------------------------------------------- key custody

/** Browser vault: IndexedDB (database `dbName`, default "zatca"). */
export interface BrowserKeyVaultOptions {
  egsUnitId: string;
  dbName?: string;
}

/** Node vault: one passphrase-encrypted file. */
export interface NodeKeyVaultOptions {
  path: string;
  /** At least 8 characters for a new vault. */
  passphrase: string;
  /** Default: the id recorded in the file, or "default". */
  egsUnitId?: string;
  /** PBKDF2-SHA256 iterations for new vault files (default 600000, minimum 100000). */
  iterations?: number;
}

export interface OverwriteOptions {
  /** Replace an existing key (default: fail with `key_exists`). */
  overwrite?: boolean;
}

/** A passphrase-encrypted key backup (JSON-serialisable). */
export interface KeyBackup {
  format: "zatca-key-backup";
  version: 1;
  kdf: { name: "PBKDF2"; hash: "SHA-256"; iterations: number; salt: string };
  cipher: { name: "AES-GCM"; iv: string };
  /** base64 */
  ciphertext: string;
  /** base64 SubjectPublicKeyInfo DER. */
  public_key: string;
  certificate: string | null;
  certificate_unchecked: boolean;
}

/**
 * Custody of an EGS unit's signing key. The key is generated inside WebAssembly and stored only
 * encrypted (AES-256-GCM under a non-extractable WebCrypto key); only public material, the
 * CSR, the certificate and an explicit passphrase-encrypted backup ever leave it.
 */
export class KeyVault {
  private constructor();
  static open(options: BrowserKeyVaultOptions | NodeKeyVaultOptions): Promise<KeyVault>;
  readonly egsUnitId: string;
  hasKey(): Promise<boolean>;
  /** SubjectPublicKeyInfo DER, or null. */
  publicKey(): Promise<Uint8Array | null>;
  /** The stored certificate (PEM), or null. */
  certificate(): Promise<string | null>;
  /** Generates a key inside WebAssembly and stores it encrypted; returns the public key. */
  generateKey(options?: OverwriteOptions): Promise<Uint8Array>;
  /** Imports an existing key (PEM text or DER bytes); returns the public key. */
  importPrivateKey(key: string | Uint8Array, options?: OverwriteOptions): Promise<Uint8Array>;
  /** Decrypts the key once and wipes it (throws `wrong_passphrase` / `vault_corrupted` / `no_key`). */
  check(): Promise<true>;
  deleteKey(): Promise<void>;
  createCsr(config: CsrConfig, environment: Environment): Promise<Csr>;
  /** Stores the CSID; refuses one for another key unless `unchecked`. */
  setCertificate(certificate: string, options?: { unchecked?: boolean }): Promise<CertificateInfo>;
  signInvoice(input: InvoiceInput | string, chain: ChainInputs, options?: SignOptions): Promise<SignedInvoice>;
  signXml(xml: string | Uint8Array, options?: SignOptions): Promise<SignedInvoice>;
  /** The key encrypted under `passphrase` (PBKDF2-SHA256 600000 by default, AES-256-GCM). */
  exportBackup(passphrase: string, options?: { iterations?: number }): Promise<KeyBackup>;
  /** Restores a key and certificate from `exportBackup` output; returns the public key. */
  importBackup(backup: KeyBackup, passphrase: string, options?: OverwriteOptions): Promise<Uint8Array>;
  close(): void;
}

// ---------------------------------------------------------------- chain allocation

/** Browser allocator: IndexedDB + Web Locks. */
export interface BrowserChainOptions {
  egsUnitId: string;
  dbName?: string;
  /** Chain head of a unit that already issued documents elsewhere (used only when none is stored). */
  initial?: { icv: number; pih: string };
}

/** Node allocator: `path` (head), `path.log` (one line per document), `path.lock`. */
export interface NodeChainOptions {
  path: string;
  /** Default: the file name of `path`. */
  egsUnitId?: string;
  initial?: { icv: number; pih: string };
  /** How long to wait for another process holding the lock (default 30000). */
  lockTimeoutMs?: number;
}

export interface ChainState {
  /** ICV of the last recorded document (0 when none). */
  icv: number;
  /** PIH of the next document. */
  pih: string;
  next_icv: number;
}

/** A slot handed to the sign callback. */
export interface ChainSlot extends ChainInputs {}

/** One recorded document. */
export interface ChainRecord {
  icv: number;
  uuid: string;
  pih: string;
  hash: string;
  recorded_at: string;
}

/**
 * Hands out ICV and PIH per EGS unit atomically and records each signed document's hash: the
 * step "allocate → sign → record" holds an exclusive lock (Web Locks across tabs; in Node an
 * in-process queue and a lock file), and survives reloads.
 */
export class ChainAllocator {
  private constructor();
  static open(options: BrowserChainOptions | NodeChainOptions): Promise<ChainAllocator>;
  readonly egsUnitId: string;
  state(): Promise<ChainState>;
  /** Runs `sign(slot)` under the lock and records the returned document's hash. */
  next<T extends { hash: string; icv?: number | null; uuid?: string }>(
    sign: (slot: ChainSlot) => T | Promise<T>,
    options?: { uuid?: string },
  ): Promise<T>;
  /** Signs `input` with `vault` in the next slot. */
  signInvoice(vault: KeyVault, input: InvoiceInput | string, options?: SignOptions & { uuid?: string }): Promise<SignedInvoice>;
  /** Records a document signed at the next slot whose recording was cut short; false when the chain has moved. */
  adopt(doc: { icv: number; uuid: string; hash: string }): Promise<boolean>;
  history(options?: { fromIcv?: number; limit?: number }): Promise<ChainRecord[]>;
  close(): void;
}

// ---------------------------------------------------------------- relay client (hosted API)

/** An error answered by the relay (its envelope), or the failure to reach it. */
export class RelayError extends Error {
  /** The relay's code (`VALIDATION_ERROR`, `ZATCA_REJECTED`, …), or the client's: `NETWORK_ERROR`, `TIMEOUT`, `ONBOARDING_FAILED`, `INVALID_RESPONSE`, `HTTP_<status>` (an answer without the envelope). */
  readonly code: string;
  /** HTTP status (0 when no answer arrived). */
  readonly status: number;
  /** Whether the same request may succeed later (the relay's `retryable`; true for network failures). */
  readonly retryable: boolean;
  /** Field paths of invalid input, or ZATCA's messages. */
  readonly details: RelayErrorDetail[];
}
export function isRelayError(value: unknown): value is RelayError;

export interface RelayErrorDetail {
  path?: string;
  message?: string;
  code?: string;
  rule?: string;
  [key: string]: unknown;
}

export interface RelayClientOptions {
  /** Default: the page's origin (browsers). */
  baseUrl?: string;
  apiKey?: string | null;
  fetch?: typeof fetch;
  /** Per request (default 30000). */
  timeoutMs?: number;
  /** Retries of a retryable failure, same Idempotency-Key (default 2). */
  retries?: number;
  retryDelayMs?: number;
}

export type RelayEnvironment = "sandbox" | "production";
export type RelayInvoiceStatus = "pending" | "submitted" | "retrying" | "reported" | "cleared" | "rejected";
export type OnboardingStatus = "pending" | "awaiting_compliance_documents" | "ready_for_production" | "active" | "failed";
export type ComplianceKind =
  | "simplified_invoice" | "simplified_credit_note" | "simplified_debit_note"
  | "standard_invoice" | "standard_credit_note" | "standard_debit_note";

export interface ApiKeyInfo {
  id: string;
  /** The full key: only in the answers of `onboard` and `createKey`. */
  key?: string;
  masked_key: string;
  environment: RelayEnvironment;
  name?: string | null;
  status?: string;
  default_egs_unit_id?: string | null;
  [key: string]: unknown;
}

export interface OnboardResponse {
  account_id: string;
  plan: string;
  quotas: Record<string, unknown>;
  api_key: ApiKeyInfo & { key: string };
}

export interface SellerProfile {
  name: string;
  name_ar?: string;
  vat_number: string;
  crn?: string;
  address: {
    street: string;
    building_number?: string;
    district?: string;
    city: string;
    postal_code?: string;
    additional_number?: string;
    country?: string;
  };
  branch?: string;
  industry?: string;
}

export interface CreateEgsUnitBody {
  unit_name: string;
  invoice_type?: "standard" | "simplified" | "both";
  otp?: string;
  phase?: 1 | 2;
  environment?: RelayEnvironment;
  seller?: SellerProfile;
  custody?: "relay" | "device";
  csr?: string;
}

export interface EgsStatus {
  egs_unit_id: string;
  unit_name: string;
  environment: RelayEnvironment;
  phase: number;
  onboarding_status: OnboardingStatus;
  cert_issued_at: string | null;
  cert_expires_at: string | null;
  days_until_expiry: number | null;
  cert_health: "healthy" | "expiring_soon" | "expired" | "none";
  invoice_counter: number;
  serial_number?: string;
  invoice_type?: string;
  custody?: "relay" | "device";
  csid?: "none" | "compliance" | "production";
  message?: string | null;
  errors?: unknown[];
  compliance_documents?: { required: ComplianceKind[]; accepted: ComplianceKind[]; pending: ComplianceKind[]; submit_url: string };
  /** Device custody: base64 DER of the certificate to sign with. */
  certificate?: string;
  reporting?: { pending: number; near_deadline: number; past_deadline: number };
  next_chain?: { icv: number; pih: string };
  chain_note?: unknown;
  [key: string]: unknown;
}

export interface DeviceOnboardingProgress {
  step: "key" | "csr" | "unit" | "compliance_csid" | "compliance_document" | OnboardingStatus;
  egs_unit_id?: string;
  kind?: ComplianceKind;
  done?: number;
  of?: number;
}

export interface DeviceOnboardingOptions extends WaitOptions {
  unit_name: string;
  invoice_type?: "standard" | "simplified" | "both";
  seller?: SellerProfile;
  /** The CSR's subject (the key comes from the vault). */
  csr: CsrConfig;
  environment?: Environment;
  otp?: string;
  /** The invoice input of each compliance document the unit must pass. */
  complianceInput: (kind: ComplianceKind) => InvoiceInput;
  onProgress?: (progress: DeviceOnboardingProgress) => void;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  onStatus?: (status: EgsStatus) => void;
}

export interface CreateOptions {
  /** Default: a new UUID per call, reused on the client's retries. */
  idempotencyKey?: string;
  retries?: number;
}

/** The answer of a create or of `submitSigned` (fields depend on the document kind). */
export interface InvoiceCreated {
  invoice_id: string;
  uuid: string;
  status: RelayInvoiceStatus;
  document_type?: "invoice" | "credit_note" | "debit_note";
  subtotal: number;
  vat: number;
  total: number;
  invoice_date_hijri?: string | null;
  qr_code?: string | null;
  reported_at?: string | null;
  report_deadline?: string | null;
  cleared_at?: string | null;
  signed_xml_url?: string;
  pdf_url?: string;
  message?: string;
  icv?: number;
  invoice_hash?: string;
  chain?: { status: "continuous" | "gap" | "fork" | "out_of_order"; expected_icv: number; expected_pih: string };
  [key: string]: unknown;
}

export interface InvoiceSummary {
  invoice_id: string;
  uuid: string;
  invoice_number: string;
  invoice_type: "simplified" | "standard";
  document_type: "invoice" | "credit_note" | "debit_note";
  status: RelayInvoiceStatus;
  total: number;
  invoice_date: string;
  created_at: string;
}

export interface InvoicePage {
  data: InvoiceSummary[];
  pagination: { limit: number; next_cursor: string | null; has_more: boolean; total_count: number };
}

export interface InvoiceListQuery {
  limit?: number;
  cursor?: string;
  status?: RelayInvoiceStatus;
  invoice_type?: "simplified" | "standard";
  document_type?: "invoice" | "credit_note" | "debit_note";
  date_from?: string;
  date_to?: string;
  egs_unit_id?: string;
}

export interface InvoiceDetail extends InvoiceSummary {
  egs_unit_id: string;
  subtotal: number;
  vat: number;
  currency: string;
  invoice_date_hijri: string | null;
  reported_at: string | null;
  cleared_at: string | null;
  report_deadline: string | null;
  signed_xml_url: string | null;
  pdf_url: string | null;
  qr_code: string | null;
  line_items: { line_number: number; description: string; quantity: number; unit_price: number; vat_rate: number; line_total: number }[];
  timeline: { status: RelayInvoiceStatus; at: string; messages?: unknown[] }[];
  invoice_time: string;
  icv: number | null;
  invoice_hash: string | null;
  device_signed: boolean;
  report_deadline_near?: boolean;
}

/**
 * An address in the body of a relay create. Unlike the core's input (`Address`, where ZATCA only
 * warns about missing parts), `street`, `city` and `country` are required, as the hosted API
 * documents its `AddressDto` and `BuyerAddressDto`: the relay answers `400 VALIDATION_ERROR`
 * with `missing_field` at e.g. `buyer.address.city` without one.
 */
export interface RelayAddress extends Address {
  street: string;
  city: string;
  /** ISO 3166-1 alpha-2 (`SA`). */
  country: string;
}

/** A party in the body of a relay create: an address it gives is complete. */
export interface RelayParty extends Party {
  address?: RelayAddress;
}

/**
 * The seller of a relay create (`SellerDto`): `name` and `vat_number` (the unit's). The whole
 * seller, or its whole address, may be left out: the EGS unit's seller profile is then used.
 */
export interface RelaySeller extends RelayParty {
  name: string;
  vat_number: string;
}

/** The buyer of a standard (B2B) document (`BuyerDto`): `name`, `vat_number` and `address`. */
export interface RelayBuyer extends RelayParty {
  name: string;
  vat_number: string;
  address: RelayAddress;
}

type RelayBody = Omit<InvoiceInput, "invoice_type" | "document_type" | "seller" | "buyer" | "original_invoice_uuid"> & {
  seller?: RelaySeller;
  egs_unit_id?: string;
  original_invoice_uuid?: string;
  [key: string]: unknown;
};

/** The body of a simplified (B2C) invoice: the core's input plus the unit; the buyer optional. */
export type RelayInvoiceBody = RelayBody & {
  buyer?: RelayParty | null;
};

/** The body of a standard (B2B) invoice: the buyer is required. */
export type RelayStandardInvoiceBody = RelayBody & {
  buyer: RelayBuyer;
};

/**
 * The body of a credit or debit note. A note of a standard invoice needs a `RelayBuyer`
 * (`BUYER_REQUIRED_FOR_B2B_NOTE`, `VALIDATION_ERROR` otherwise), which the relay checks against
 * the original; a note of a simplified one takes a simplified invoice's buyer.
 */
export type RelayNoteBody = RelayBody & {
  original_invoice_uuid: string;
  reason: string;
  buyer?: RelayParty | null;
};

/** The relay's hosted API, typed; every non-2xx answer throws a RelayError. */
export class RelayClient {
  constructor(options?: RelayClientOptions);
  readonly baseUrl: string;
  apiKey: string | null;
  request<T = unknown>(method: string, path: string, options?: { body?: unknown; auth?: boolean; idempotencyKey?: string; retries?: number; as?: "json" | "text" | "bytes" }): Promise<T>;
  health(): Promise<unknown>;
  /** Creates an account; the client then uses its first key. */
  onboard(body?: { name?: string; email?: string; environment?: RelayEnvironment; key_name?: string }): Promise<OnboardResponse>;
  account(): Promise<Record<string, unknown>>;
  listKeys(): Promise<{ data?: ApiKeyInfo[]; [key: string]: unknown }>;
  createKey(body?: { name?: string; environment?: RelayEnvironment; default_egs_unit_id?: string }): Promise<ApiKeyInfo & { key: string }>;
  updateKey(id: string, body: { default_egs_unit_id?: string | null; name?: string }): Promise<ApiKeyInfo>;
  revokeKey(id: string): Promise<unknown>;
  createEgsUnit(body: CreateEgsUnitBody): Promise<{ egs_unit_id: string; serial_number: string; onboarding_status: OnboardingStatus; message: string; poll_url: string }>;
  listEgsUnits(): Promise<unknown>;
  egsStatus(id: string): Promise<EgsStatus>;
  requestProduction(id: string, otp: string): Promise<{ message: string; cert_expires_at: string | null; onboarding_status: OnboardingStatus }>;
  renew(id: string, body: { otp: string; csr?: string }): Promise<{ message: string; cert_expires_at: string | null; onboarding_status: OnboardingStatus }>;
  complianceDocuments(id: string): Promise<Record<string, unknown>>;
  submitComplianceDocument(id: string, doc: { kind: ComplianceKind; xml: string; hash?: string; uuid?: string }): Promise<Record<string, unknown>>;
  auditLog(id: string, params?: { limit?: number }): Promise<unknown>;
  retryOnboarding(id: string, body?: { otp?: string }): Promise<unknown>;
  /** Polls until `onboarding_status` is one of `statuses`, or `failed`. */
  waitForEgsStatus(id: string, statuses: OnboardingStatus[], options?: WaitOptions): Promise<EgsStatus>;
  /** Key in `vault`, CSR, unit, compliance documents signed here, certificate stored in `vault`. */
  onboardDeviceUnit(vault: KeyVault, options: DeviceOnboardingOptions): Promise<EgsStatus>;
  createSimplifiedInvoice(body: RelayInvoiceBody, options?: CreateOptions): Promise<InvoiceCreated>;
  createStandardInvoice(body: RelayStandardInvoiceBody, options?: CreateOptions): Promise<InvoiceCreated>;
  createCreditNote(body: RelayNoteBody, options?: CreateOptions): Promise<InvoiceCreated>;
  createDebitNote(body: RelayNoteBody, options?: CreateOptions): Promise<InvoiceCreated>;
  /** Device custody: a document signed on the device, reported or cleared by the relay. */
  submitSigned(signed: { xml: string; hash: string; uuid: string; egs_unit_id?: string }, options?: CreateOptions & { egsUnitId?: string }): Promise<InvoiceCreated>;
  listInvoices(params?: InvoiceListQuery): Promise<InvoicePage>;
  /** Every matching invoice, following the cursor. */
  invoices(params?: Omit<InvoiceListQuery, "cursor">): AsyncGenerator<InvoiceSummary, void, undefined>;
  getInvoice(id: string): Promise<InvoiceDetail>;
  invoiceXml(id: string): Promise<string>;
  invoicePdf(id: string): Promise<Uint8Array>;
}

// ---------------------------------------------------------------- offline outbox

/** 24 hours: ZATCA's reporting limit for simplified documents. */
export const REPORTING_WINDOW_MS: number;
/** Two hours: when `deadline-near` fires. */
export const NEAR_DEADLINE_MS: number;

export interface OutboxError {
  code: string;
  message: string;
  retryable: boolean;
  status: number;
  details: RelayErrorDetail[];
}

export interface OutboxEntry {
  /** Also the Idempotency-Key of every attempt. */
  id: string;
  egs_unit_id: string;
  icv: number;
  uuid: string;
  hash: string;
  /** The signed XML, sent as is every time. */
  xml: string;
  qr: string | null;
  meta: Record<string, unknown>;
  state: "queued" | "sent" | "rejected";
  issued_at: string;
  /** Simplified documents: `issued_at` + 24 hours (ZATCA's reporting limit); standard ones: null. */
  deadline: string | null;
  created_at: string;
  attempts: number;
  last_error: OutboxError | null;
  deadline_warned: boolean;
  result: InvoiceCreated | null;
  sent_at: string | null;
}

export interface OutboxEvents {
  sent: { entry: OutboxEntry; result: InvoiceCreated };
  rejected: { entry: OutboxEntry; error: OutboxError };
  "deadline-near": { entry: OutboxEntry; ms_left: number };
  change: { entry?: OutboxEntry };
}

/** Browser outbox: its own IndexedDB database (default "zatca-outbox"). */
export interface BrowserOutboxOptions {
  client: RelayClient | null;
  dbName?: string;
  nearDeadlineMs?: number;
}

/** Node outbox: one JSON file, `path.lock` while a flush runs. */
export interface NodeOutboxOptions {
  client: RelayClient | null;
  path: string;
  nearDeadlineMs?: number;
  lockTimeoutMs?: number;
}

/**
 * Documents signed on the device wait here until the relay has them: sent in chain order, the
 * same bytes and Idempotency-Key every time, resumed after a reload or restart.
 */
export class Outbox {
  private constructor();
  static open(options: BrowserOutboxOptions | NodeOutboxOptions): Promise<Outbox>;
  client: RelayClient | null;
  nearDeadlineMs: number;
  on<E extends keyof OutboxEvents>(event: E, listener: (payload: OutboxEvents[E]) => void): () => void;
  /** Stores a signed document; nothing is sent here. */
  add(egsUnitId: string, signed: SignedInvoice, meta?: Record<string, unknown>): Promise<OutboxEntry>;
  /**
   * Signs the next document of `allocator`'s unit and stores it here before the chain records
   * it (no crash loses a recorded document); a document left by an attempt cut short is adopted
   * into the chain first.
   */
  issue(
    allocator: ChainAllocator,
    sign: (slot: ChainSlot) => SignedInvoice | Promise<SignedInvoice>,
    meta?: Record<string, unknown> | ((slot: ChainSlot) => Record<string, unknown>),
  ): Promise<{ signed: SignedInvoice; entry: OutboxEntry }>;
  entries(): Promise<OutboxEntry[]>;
  pending(now?: number): Promise<(OutboxEntry & { ms_left: number | null })[]>;
  prune(olderThanMs?: number): Promise<void>;
  flush(): Promise<{ sent: number; rejected: number; waiting: number }>;
  checkDeadlines(): Promise<void>;
  /** Flushes now, every `intervalMs` (default 5000) and when the browser comes back online. */
  start(options?: { intervalMs?: number }): void;
  stop(): void;
  close(): void;
}

// ---------------------------------------------------------------- validation module

export interface ValidateOptions {
  /** The expected previous invoice hash (base64); another one in the document is `PIH`. */
  pih?: string;
  /**
   * The current time in UTC, `YYYY-MM-DDTHH:MM:SS` (e.g. `new Date().toISOString().slice(0, 19)`):
   * BR-KSA-04 (issue date in the future) and BR-KSA-98 (simplified document older than 24 hours)
   * are checked only when it is given.
   */
  now?: string;
  /**
   * The document is not signed yet (checked before signing it): what signing adds — the
   * cryptographic stamp (BR-KSA-28, 29, 30, 60) and the QR code (BR-KSA-27) — is not asked for.
   * Default false: a document about to be reported is checked as ZATCA checks it.
   */
  unsigned?: boolean;
}

/** One violated rule. */
export interface ValidationIssue {
  /**
   * ZATCA's rule id (`BR-KSA-17`), or `XSD` (the UBL 2.1 schema: order, cardinality,
   * attributes, value types), `XML` (not well-formed UTF-8 XML), `PIH` (not the expected
   * previous invoice hash).
   */
  rule: string;
  /** An error makes ZATCA reject the document; a warning is accepted (HTTP 202). */
  severity: Severity;
  /** XPath-like location: `/Invoice/cac:InvoiceLine[2]/cbc:LineExtensionAmount`. */
  location: string;
  /** ZATCA's English message (for `XSD`: what kind of schema violation). */
  message: string;
  /** Arabic message. */
  message_ar: string;
  /** What to do, for the common rules. */
  hint: string | null;
  /** The values involved, when they help (for `XSD`: which element, which value). */
  detail: string | null;
}

export interface ValidationReport {
  /** No error (warnings allowed). */
  valid: boolean;
  /** Errors first, then warnings, each in document order. */
  issues: ValidationIssue[];
}

/**
 * Checks a UBL document (signed or not) as ZATCA would before accepting it: the UBL 2.1
 * structure and the implemented schematron rules (`docs/rules.md` lists them). Never throws on
 * the document. Validation module (`initRules()`).
 */
export function validate(xml: string | Uint8Array, options?: ValidateOptions): ValidationReport;

/** One finding about an invoice request (see `validateInput`). */
export interface InputValidationIssue {
  /** ZATCA's rule id (`BR-KSA-40`, `XSD`), or null for a check of the core's own. */
  rule: string | null;
  /** The core's error code (`invalid_vat_number`) for a finding of the input checks; the rule id for one of the XML. */
  code: string;
  /** An error makes the request fail (and ZATCA reject the document); a warning is accepted. */
  severity: Severity;
  /** JSON path of the field (`line_items[1].quantity`, `seller.vat_number`), else the XPath-like location in the written document. */
  location: string;
  /** English message. */
  message: string;
  /** Arabic message, for a rule of ZATCA's list. */
  message_ar: string | null;
  /** What to do, for the common rules. */
  hint: string | null;
  /** The values involved, when they help. */
  detail: string | null;
  /** `input`: the core's checks of the request; `xml`: ZATCA's rules on the document written from it. */
  source: 'input' | 'xml';
}

export interface InputValidationReport {
  /** No error (warnings allowed). */
  valid: boolean;
  /** The document could be written and ZATCA's rules ran on it (false while the request has a problem no document can express). */
  checkedXml: boolean;
  /** The core's findings, then the XML's (one per rule and place); errors first. */
  issues: InputValidationIssue[];
}

/**
 * Checks an invoice request (what `buildInvoice` takes) as the core and ZATCA's rules see it:
 * the core's input checks, then the rules on the XML the core writes from it, so a request and
 * its document never disagree. Never throws on the request. Validation module (`initRules()`).
 */
export function validateInput(input: InvoiceInput | string, options?: { now?: string }): InputValidationReport;
