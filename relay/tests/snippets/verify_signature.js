const crypto = require('node:crypto');

// Checks a `Zatca-Signature` header (`t=<unix seconds>,v1=<hex>`) against the raw request body
// (a Buffer or string, exactly as received — not re-serialised JSON): HMAC-SHA256 keyed with the
// endpoint's secret over `${t}.${body}`, and `t` within five minutes of now.
function verifyZatcaSignature(secret, header, rawBody, nowSeconds = Math.floor(Date.now() / 1000)) {
  let timestamp = null;
  const signatures = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't') timestamp = Number.parseInt(value, 10);
    if (key === 'v1') signatures.push(value);
  }
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > 300) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
  return signatures.some((hex) => {
    const given = Buffer.from(hex, 'hex');
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}
