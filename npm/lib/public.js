// The functions both entry points export (index.js for browsers, node.js for Node).
export {
  INITIAL_PIH,
  buildCsr,
  buildInvoice,
  certificateInfo,
  csrConfigFromProperties,
  embeddedQr,
  invoiceHash,
  isValidPih,
  nextPih,
  parseCsr,
  publicKeyOf,
  qrDecode,
  qrDecodeTlv,
  qrDescribe,
  qrEncode,
  qrPng,
  qrSvg,
  renderPdf,
  signInvoice,
  signXml,
  stripSignature,
  validate,
  validateInput,
  verifyInvoice,
  version,
} from './api.js';
export { ZatcaError, isZatcaError } from './error.js';
export { RelayClient, RelayError, isRelayError } from './relay.js';
export { NEAR_DEADLINE_MS, REPORTING_WINDOW_MS } from './outbox.js';
