// The PDF module: loaded on its own by initPdf(); renders a signed document of the golden corpus
// to the same PDF/A-3b the native renderer makes (checked natively with qpdf, pdftotext and
// zbarimg by `cargo test -p zatca-pdf`); unsigned input is a ZatcaError with zatca-pdf's code.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { ZatcaError, initPdf, renderPdf } from '@zatca-kit/zatca';

import { FIXTURES, read, readText } from './helpers.mjs';

test('renderPdf needs initPdf()', async () => {
  const xml = read(join(FIXTURES, 'invoices', 'simplified-invoice', 'expected', 'signed.xml'));
  assert.throws(() => renderPdf(xml), (e) => e instanceof ZatcaError && e.code === 'not_initialized' && /initPdf/.test(e.message));
  await initPdf();
  const pdf = renderPdf(xml);
  assert.ok(pdf instanceof Uint8Array);
  const head = Buffer.from(pdf.subarray(0, 8)).toString('latin1');
  assert.equal(head, '%PDF-1.7');
  const text = Buffer.from(pdf).toString('latin1');
  assert.match(text, /\/AFRelationship\s*\/Source/);
  assert.match(text, /<pdfaid:part>3<\/pdfaid:part>/);
  // A string works as well as bytes, and the output is deterministic.
  assert.deepEqual(renderPdf(readText(join(FIXTURES, 'invoices', 'simplified-invoice', 'expected', 'signed.xml'))), pdf);
});

test('an unsigned document is a ZatcaError missing_qr', async () => {
  await initPdf();
  const unsigned = read(join(FIXTURES, 'invoices', 'simplified-invoice', 'expected', 'unsigned.xml'));
  assert.throws(() => renderPdf(unsigned), (e) => e instanceof ZatcaError && e.code === 'missing_qr');
  assert.throws(() => renderPdf('<Order/>'), { code: 'unsupported_document_type' });
});
