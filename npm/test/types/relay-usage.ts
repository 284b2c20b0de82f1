// Typed usage of RelayClient and Outbox, checked by `tsc -p tsconfig.json`; never executed.
import {
  ChainAllocator,
  KeyVault,
  Outbox,
  RelayClient,
  RelayError,
  isRelayError,
  type ComplianceKind,
  type InvoiceCreated,
  type InvoiceInput,
  type OutboxEntry,
  type RelayInvoiceBody,
  type RelayNoteBody,
  type RelayStandardInvoiceBody,
} from "@zatca-kit/zatca";

export async function relayExample(input: (kind: ComplianceKind) => InvoiceInput, sale: InvoiceInput): Promise<void> {
  const relay = new RelayClient({ baseUrl: "http://127.0.0.1:8080", retries: 1 });
  const account = await relay.onboard({ name: "Shop" });
  const key: string = account.api_key.key;
  const vault = await KeyVault.open({ egsUnitId: "till-1" });
  const unit = await relay.onboardDeviceUnit(vault, {
    unit_name: "Till 1",
    invoice_type: "both",
    csr: {
      common_name: "Till 1", serial_number: "1-a|2-b|3-c", organization_identifier: "399999999900003",
      organization_unit: "Riyadh", organization_name: "Shop", country: "SA", invoice_type: "1100",
      location_address: "Riyadh", industry_business_category: "Retail",
    },
    complianceInput: input,
    onProgress: (p) => console.log(p.step, p.kind, p.done, p.of),
  });
  const next = unit.next_chain;
  const chain = await ChainAllocator.open({ egsUnitId: unit.egs_unit_id, initial: next ? { icv: next.icv - 1, pih: next.pih } : undefined });
  const signed = await chain.signInvoice(vault, sale);
  const created: InvoiceCreated = await relay.submitSigned(signed, { egsUnitId: unit.egs_unit_id, idempotencyKey: "k-1" });
  const page = await relay.listInvoices({ limit: 10, status: "reported" });
  for await (const inv of relay.invoices({ invoice_type: "simplified" })) console.log(inv.invoice_number, inv.status);
  const detail = await relay.getInvoice(created.invoice_id);
  const pdf: Uint8Array = await relay.invoicePdf(detail.invoice_id);
  const xml: string = await relay.invoiceXml(detail.invoice_id);

  const address = { street: "Olaya St", city: "Riyadh", country: "SA" };
  const standard: RelayStandardInvoiceBody = {
    egs_unit_id: unit.egs_unit_id,
    invoice_number: "INV-002",
    invoice_date: "2025-01-15",
    invoice_time: "14:30:00",
    seller: { name: "Shop", vat_number: "399999999900003", address },
    buyer: { name: "Client Co", vat_number: "300098765400003", address },
    line_items: [{ description: "Service B", quantity: 1, unit_price: 100 }],
  };
  const cleared: InvoiceCreated = await relay.createStandardInvoice(standard);
  // The relay requires what the hosted API's DTOs require in every object a body gives (the
  // core's input does not).
  // @ts-expect-error: country is required
  await relay.createStandardInvoice({ ...standard, buyer: { ...standard.buyer, address: { street: "Olaya St", city: "Riyadh" } } });
  // @ts-expect-error: city is required
  await relay.createStandardInvoice({ ...standard, buyer: { ...standard.buyer, address: { street: "Olaya St", country: "SA" } } });
  // @ts-expect-error: a standard invoice's buyer has a VAT number
  await relay.createStandardInvoice({ ...standard, buyer: { name: "Client Co", address } });
  // @ts-expect-error: a standard invoice's buyer has an address
  await relay.createStandardInvoice({ ...standard, buyer: { name: "Client Co", vat_number: "300098765400003" } });
  const { buyer: _buyer, ...withoutBuyer } = standard;
  // @ts-expect-error: a standard invoice has a buyer
  await relay.createStandardInvoice(withoutBuyer);
  // @ts-expect-error: a seller the body gives has its VAT number
  await relay.createSimplifiedInvoice({ ...withoutBuyer, seller: { name: "Shop", address } });
  // @ts-expect-error: country is a string
  await relay.createSimplifiedInvoice({ ...withoutBuyer, seller: { name: "Shop", vat_number: "399999999900003", address: { ...address, country: null } } });
  // The unit's seller profile stands in for a seller (or a seller's address) left out; a
  // simplified invoice's buyer is an optional B2C party.
  const { seller: _seller, ...b2c } = withoutBuyer;
  const sale2: RelayInvoiceBody = { ...b2c, buyer: { name: "Walk-in" } };
  await relay.createSimplifiedInvoice(sale2);
  await relay.createSimplifiedInvoice({ ...b2c, buyer: null, seller: { name: "Shop", vat_number: "399999999900003" } });
  const note: RelayNoteBody = { ...standard, original_invoice_uuid: cleared.uuid, reason: "Goods returned" };
  await relay.createCreditNote(note);
  // @ts-expect-error: a note gives its reason
  await relay.createDebitNote({ ...standard, original_invoice_uuid: cleared.uuid });

  const outbox = await Outbox.open({ client: relay });
  outbox.on("sent", ({ entry, result }) => console.log(entry.icv, result.status));
  outbox.on("rejected", ({ error }) => console.log(error.code, error.retryable));
  outbox.on("deadline-near", ({ ms_left }) => console.log(ms_left));
  const entry: OutboxEntry = await outbox.add(unit.egs_unit_id, signed, { number: sale.invoice_number });
  const { sent, waiting } = await outbox.flush();
  const pending = await outbox.pending();
  try {
    await relay.account();
  } catch (e) {
    if (e instanceof RelayError) console.log(e.code, e.status, e.retryable, e.details.length);
    else if (isRelayError(e)) console.log(e.code);
  }
  void [key, _buyer, _seller, cleared.status, page.pagination.next_cursor, pdf, xml, entry.deadline, sent, waiting, pending[0]?.ms_left];
}
