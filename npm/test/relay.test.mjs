// Device custody end to end from Node: the key stays here; the CSR, the compliance documents and
// an invoice are made and signed in WebAssembly, and the relay (its own process, demo mode with
// its in-process ZATCA simulators) onboards the unit and reports the invoice.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';

import init, { INITIAL_PIH, buildCsr, initTools, signInvoice } from '@zatca-kit/zatca';

import { KEY_PEM } from './helpers.mjs';
import { SELLER as seller, startRelay } from './relay-helper.mjs';

await init();
await initTools(); // buildCsr is in the tools module

const relay = await startRelay();
after(() => relay.stop());

async function call(method, path, key, body) {
  const response = await fetch(`${relay.base}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

async function waitFor(key, unit, wanted) {
  const started = Date.now();
  for (;;) {
    const { body } = await call('GET', `/v1/egs/${unit}/status`, key);
    if (wanted.includes(body.onboarding_status)) return body;
    assert.ok(Date.now() - started < 20_000, `still ${body.onboarding_status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function document(number, documentType) {
  const input = {
    invoice_number: number,
    invoice_date: '2025-01-15',
    invoice_time: '14:30:00',
    invoice_type: 'simplified',
    document_type: documentType,
    seller,
    line_items: [{ description: 'Coffee', quantity: 3, unit_price: 10 }],
  };
  if (documentType !== 'invoice') {
    input.original_invoice_number = 'CMP-1';
    input.reason = 'Compliance check';
  }
  return input;
}

test('a device-custody unit onboards and reports an invoice signed in WebAssembly', async () => {
  const { body: onboarded } = await call('POST', '/v1/onboard', null, { name: 'Node POS Co' });
  const key = onboarded.api_key.key;
  const csr = buildCsr(
    {
      common_name: 'Node POS',
      serial_number: '1-NodePOS|2-1.0|3-0001',
      organization_identifier: seller.vat_number,
      organization_unit: 'Riyadh Branch',
      organization_name: seller.name,
      country: 'SA',
      invoice_type: '0100',
      location_address: '2322 Prince Sultan Riyadh',
      industry_business_category: 'Supply activities',
    },
    KEY_PEM,
    'sandbox',
  );
  const created = await call('POST', '/v1/egs', key, { unit_name: 'Node POS', custody: 'device', csr: csr.pem });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const unit = created.body.egs_unit_id;
  let status = await waitFor(key, unit, ['awaiting_compliance_documents', 'failed']);
  assert.equal(status.onboarding_status, 'awaiting_compliance_documents', JSON.stringify(status));

  // The three compliance documents, signed here with the compliance certificate.
  let pih = INITIAL_PIH;
  const kinds = [
    ['simplified_invoice', 'invoice'],
    ['simplified_credit_note', 'credit_note'],
    ['simplified_debit_note', 'debit_note'],
  ];
  for (const [i, [kind, documentType]] of kinds.entries()) {
    const signed = signInvoice(
      document(`CMP-${i + 1}`, documentType),
      { icv: i + 1, pih, uuid: randomUUID() },
      { key: KEY_PEM, certificate: status.certificate },
    );
    const sent = await call('POST', `/v1/egs/${unit}/compliance-documents`, key, {
      kind,
      invoice: Buffer.from(signed.xml).toString('base64'),
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    pih = signed.hash;
  }
  status = await waitFor(key, unit, ['active', 'failed']);
  assert.equal(status.onboarding_status, 'active', JSON.stringify(status));
  assert.equal(status.csid, 'production');

  // An invoice at the chain position the relay announces, signed with the production
  // certificate, reported through the relay.
  const signed = signInvoice(
    document('NODE-1', 'invoice'),
    { icv: status.next_chain.icv, pih: status.next_chain.pih, uuid: randomUUID() },
    { key: KEY_PEM, certificate: status.certificate },
  );
  const body = {
    egs_unit_id: unit,
    invoice: Buffer.from(signed.xml).toString('base64'),
    invoice_hash: signed.hash,
    uuid: signed.uuid,
  };
  const reported = await call('POST', '/v1/invoices/signed', key, body);
  assert.equal(reported.status, 200, JSON.stringify(reported.body));
  assert.equal(reported.body.status, 'reported');
  assert.equal(reported.body.chain.status, 'continuous');
  assert.equal(reported.body.total, 34.5);
  assert.equal(reported.body.qr_code, signed.qr);
  const again = await call('POST', '/v1/invoices/signed', key, body);
  assert.equal(again.body.invoice_id, reported.body.invoice_id, 'the same signed bytes are one invoice');
  const detail = await call('GET', `/v1/invoices/${reported.body.invoice_id}`, key);
  assert.deepEqual(
    detail.body.timeline.map((t) => t.status),
    ['pending', 'submitted', 'reported'],
  );
  assert.equal(detail.body.device_signed, true);
});
