// A typed usage example: `tsc -p tsconfig.json` (run by `npm test` and scripts/build.sh) checks
// that it compiles against index.d.ts. It is never executed.
import init, {
  ChainAllocator,
  INITIAL_PIH,
  KeyVault,
  ZatcaError,
  buildInvoice,
  certificateInfo,
  initRules,
  initTools,
  invoiceHash,
  isZatcaError,
  qrDecode,
  qrPng,
  qrSvg,
  signInvoice,
  validateInput,
  verifyInvoice,
  type CsrConfig,
  type InputValidationIssue,
  type InvoiceInput,
  type SignedInvoice,
  type ZatcaErrorCode,
} from "@zatca-kit/zatca";

export async function example(certificatePem: string, keyPem: string): Promise<void> {
  await init();
  const input: InvoiceInput = {
    invoice_number: "INV-0001",
    invoice_date: "2025-01-15",
    invoice_time: "14:30:00",
    invoice_type: "simplified",
    seller: {
      name: "Maximum Speed Tech Supply LTD",
      vat_number: "399999999900003",
      crn: "1010010000",
      address: { street: "Prince Sultan", building_number: "2322", city: "Riyadh", postal_code: "23333", country: "SA" },
    },
    line_items: [
      { description: "Book", quantity: 33, unit_price: 3 },
      { description: "Pencil", quantity: "3", unit_price: "34.00", vat_category: "S", discount: null },
    ],
    transaction_flags: { summary: false },
  };
  const built = buildInvoice(input, { icv: 1, pih: INITIAL_PIH, uuid: crypto.randomUUID() });
  const payable: string = built.totals.payable;
  const signed: SignedInvoice = signInvoice(
    input,
    { icv: 1, pih: INITIAL_PIH, uuid: "6f4d20e0-6bfe-4a80-9389-7dabe6620f02" },
    { key: keyPem, certificate: certificatePem },
    { signing_time: "2025-01-15T14:31:00" },
  );
  const hash: string = invoiceHash(signed.xml);
  const seller: string = qrDecode(signed.qr).seller_name;
  const notAfter: number = certificateInfo(certificatePem).not_after;

  await initTools();
  const report = verifyInvoice(signed.xml, { expectedPih: INITIAL_PIH });
  const codes: ZatcaErrorCode[] = report.issues.map((i) => i.code);
  const svg: string = qrSvg(signed.qr);
  const png: Uint8Array = qrPng(signed.qr, 4);

  // Browser custody (IndexedDB) and chain allocation.
  const vault = await KeyVault.open({ egsUnitId: "pos-1" });
  if (!(await vault.hasKey())) await vault.generateKey();
  const config: CsrConfig = {
    common_name: "TST-886431145-399999999900003",
    serial_number: "1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f",
    organization_identifier: "399999999900003",
    organization_unit: "Riyadh Branch",
    organization_name: "Maximum Speed Tech Supply LTD",
    country: "SA",
    invoice_type: "1100",
    location_address: "RRRD2929",
    industry_business_category: "Supply activities",
  };
  const csr = await vault.createCsr(config, "simulation");
  const apiCsr: string = csr.api_base64;
  await vault.setCertificate(certificatePem);
  const chain = await ChainAllocator.open({ egsUnitId: "pos-1" });
  const next: SignedInvoice = await chain.signInvoice(vault, input);
  const viaCallback = await chain.next((slot) => vault.signInvoice(input, slot));
  const history = await chain.history({ fromIcv: 1, limit: 10 });
  const lastHash: string | undefined = history.at(-1)?.hash;
  const backup = await vault.exportBackup("correct horse battery staple");
  const json: string = JSON.stringify(backup);

  // Node custody (encrypted file) uses the same classes.
  const fileVault = await KeyVault.open({ path: "/var/lib/pos/egs-1.key.json", passphrase: "long passphrase" });
  const fileChain = await ChainAllocator.open({ path: "/var/lib/pos/egs-1.chain.json", initial: { icv: 0, pih: INITIAL_PIH } });
  await fileChain.signInvoice(fileVault, JSON.stringify(input), { signing_time: "2025-01-15T14:31:00" });

  try {
    buildInvoice({ ...input, invoice_date: "2025-02-30" }, { icv: 2, pih: next.hash, uuid: "x" });
  } catch (e) {
    if (e instanceof ZatcaError) {
      const code: ZatcaErrorCode = e.code;
      const where: string | null = e.path;
      const rule: string | null = e.rule;
      console.log(code, where, rule, e.issues.length);
    } else if (isZatcaError(e)) {
      console.log(e.code);
    }
  }
  void [payable, hash, seller, notAfter, codes, svg, png, apiCsr, viaCallback.hash, lastHash, json, key(keyPem)];
}

/** A request checked before it is built: each finding at its JSON field, from the core or the XML. */
export async function checkRequest(input: InvoiceInput): Promise<string[]> {
  await initRules();
  const report = validateInput(input, { now: "2025-01-15T15:00:00" });
  const errors: InputValidationIssue[] = report.issues.filter((i) => i.severity === "error");
  return errors.map((i) => `${i.rule ?? i.code} at ${i.location} (${i.source}${report.checkedXml ? "" : ", XML not checked"})`);
}

function key(pem: string): Uint8Array {
  return new TextEncoder().encode(pem);
}

// @ts-expect-error: invoice_number is required by the contract.
export const missingNumber: InvoiceInput = { invoice_date: "2025-01-15", invoice_time: "10:00:00", seller: {}, line_items: [] };
// @ts-expect-error: not a VAT category.
export const badCategory: InvoiceInput["line_items"][number]["vat_category"] = "X";
