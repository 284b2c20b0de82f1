#!/usr/bin/env python3
"""Writes the input side of the golden corpus (tests/fixtures/invoices/<case>/{input.json,chain.json}).

Expected outputs are produced by the golden test with ZATCA_BLESS=1 and reviewed in the diff.
Run from the repository root: python3 tests/scripts/make-fixtures.py
"""
import json, os, random

INITIAL_PIH = "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ=="
ROOT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "invoices")

SELLER = {
    "name": "Maximum Speed Tech Supply LTD", "name_ar": "شركة توريد التكنولوجيا بأقصى سرعة المحدودة",
    "vat_number": "399999999900003", "crn": "1010010000",
    "address": {"street": "Prince Sultan", "building_number": "2322", "district": "Al-Murabba",
                "city": "Riyadh", "postal_code": "23333", "country": "SA"},
}
BUYER = {
    "name": "Fatoora Samples LTD", "name_ar": "شركة نماذج فاتورة المحدودة", "vat_number": "399999999800003",
    "address": {"street": "Salah Al-Din", "building_number": "1111", "district": "Al-Murooj",
                "city": "Riyadh", "postal_code": "12222", "country": "SA"},
}
LINES = [
    {"description": "Book", "description_ar": "كتاب", "quantity": 33, "unit_price": 3},
    {"description": "Pencil", "description_ar": "قلم", "quantity": 3, "unit_price": 34},
]

def doc(number, invoice_type="simplified", document_type="invoice", **extra):
    d = {"invoice_number": number, "invoice_date": "2025-01-15", "invoice_time": "14:30:00",
         "invoice_type": invoice_type, "document_type": document_type, "seller": SELLER,
         "line_items": LINES}
    if invoice_type == "standard":
        d["buyer"] = BUYER
        if document_type == "invoice":
            d["delivery_date"] = "2025-01-15"
    if document_type != "invoice":
        d.update({"original_invoice_number": "SME00001", "reason": "Goods returned", "reason_ar": "إرجاع البضاعة"})
    d.update(extra)
    return d

cases = {}
n = 0
for it in ("simplified", "standard"):
    for dt in ("invoice", "credit_note", "debit_note"):
        n += 1
        cases[f"{it}-{dt.replace('_', '-')}"] = doc(f"INV-{n:04d}", it, dt)

cases["simplified-invoice-zero-rated"] = doc("INV-0101", line_items=[
    {"description": "Medicine", "quantity": 2, "unit_price": 12.5, "vat_category": "Z", "exemption_reason_code": "VATEX-SA-35"}])
cases["standard-invoice-exempt"] = doc("INV-0102", "standard", line_items=[
    {"description": "Life insurance premium", "quantity": 1, "unit_price": 1200, "vat_category": "E", "exemption_reason_code": "VATEX-SA-29-7"}])
cases["standard-invoice-out-of-scope"] = doc("INV-0103", "standard", line_items=[
    {"description": "Government fee", "quantity": 1, "unit_price": 300, "vat_category": "O",
     "exemption_reason_code": "VATEX-SA-OOS", "exemption_reason": "Fee collected on behalf of a government entity"}])
cases["standard-invoice-mixed-categories"] = doc("INV-0104", "standard", line_items=[
    {"description": "Laptop", "quantity": 1, "unit_price": 3500},
    {"description": "Dates (reduced rate)", "quantity": 4, "unit_price": 25, "vat_rate": 5},
    {"description": "Export freight", "quantity": 1, "unit_price": 800, "vat_category": "Z", "exemption_reason_code": "VATEX-SA-34-1"},
    {"description": "Bank fee", "quantity": 1, "unit_price": 20, "vat_category": "E", "exemption_reason_code": "VATEX-SA-29"},
    {"description": "Stamp duty", "quantity": 1, "unit_price": 10, "vat_category": "O", "exemption_reason_code": "VATEX-SA-OOS", "exemption_reason": "Stamp duty"}])
cases["standard-invoice-foreign-currency"] = doc("INV-0105", "standard", currency="USD", sar_exchange_rate=3.75, line_items=[
    {"description": "Consulting hours", "quantity": 10, "unit_price": 150}])
cases["simplified-invoice-line-discount"] = doc("INV-0106", line_items=[
    {"description": "Headphones", "quantity": 2, "unit_price": 199.99, "discount": 20},
    {"description": "Cable", "quantity": 3, "unit_price": 15, "discount": 4.5}])
cases["simplified-invoice-arabic-only"] = doc("INV-0107",
    seller={**SELLER, "name": "شركة توريد التكنولوجيا بأقصى سرعة المحدودة", "name_ar": None},
    line_items=[{"description": "قهوة عربية", "quantity": 2, "unit_price": 18.5}, {"description": "تمر", "quantity": 1, "unit_price": 42}])
cases["simplified-invoice-prices-include-vat"] = doc("INV-0108", prices_include_vat=True, line_items=[
    {"description": "Service B", "quantity": 1, "unit_price": 115}, {"description": "Snack", "quantity": 3, "unit_price": 4.99}])
rnd = random.Random(200)
cases["standard-invoice-200-lines"] = doc("INV-0109", "standard", line_items=[
    {"description": f"Item {i + 1}", "quantity": rnd.randint(1, 50), "unit_price": round(rnd.uniform(0.5, 500), 2),
     **({"vat_rate": 5} if i % 17 == 0 else {})} for i in range(200)])
cases["simplified-invoice-rounding-heavy"] = doc("INV-0110", line_items=[
    {"description": "Screw", "quantity": 7, "unit_price": 0.333},
    {"description": "Nut", "quantity": 3, "unit_price": 0.1},
    {"description": "Washer", "quantity": 1, "unit_price": 0.1},
    {"description": "Bolt", "quantity": 0.333, "unit_price": 1.005},
    {"description": "Glue", "quantity": 1.5, "unit_price": 2.675, "discount": 0.005},
    {"description": "Tape", "quantity": 12, "unit_price": 0.0455}])
cases["standard-invoice-export"] = doc("INV-0111", "standard", transaction_flags={"export": True},
    buyer={"name": "Gulf Trading LLC", "address": {"street": "Sheikh Zayed Rd", "city": "Dubai", "country": "AE"}, "other_id": {"scheme": "TIN", "value": "3001234567"}},
    line_items=[{"description": "Steel coils", "quantity": 5, "unit_price": 900, "vat_category": "Z", "exemption_reason_code": "VATEX-SA-32"}])
cases["standard-invoice-b2g"] = doc("INV-0112", "standard", transaction_flags={"b2g": True}, contract_id="CNT-2025-77",
    purchase_order_id="PO-5521", note="Delivered to the ministry warehouse")
cases["simplified-invoice-summary"] = doc("INV-0113", transaction_flags={"summary": True}, delivery_date="2025-01-01",
    delivery_end_date="2025-01-15", buyer={"name": "Walk-in customers"})
cases["simplified-invoice-hosted-api-example"] = {"invoice_number": "INV-001", "invoice_date": "2025-01-15", "invoice_time": "14:30:00",
    "seller": {"name": "Acme Ltd", "vat_number": "399999999900003", "address": {"street": "King Fahd Rd", "city": "Riyadh", "country": "SA"}},
    "line_items": [{"description": "Product A", "quantity": 2, "unit_price": 50.0}]}

os.makedirs(ROOT, exist_ok=True)
pih = INITIAL_PIH
for i, (name, body) in enumerate(sorted(cases.items())):
    body = json.loads(json.dumps(body))
    if body.get("seller", {}).get("name_ar", 1) is None:
        del body["seller"]["name_ar"]
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "input.json"), "w", encoding="utf-8") as f:
        json.dump(body, f, ensure_ascii=False, indent=2)
        f.write("\n")
    chain = {"icv": i + 1, "pih": INITIAL_PIH, "uuid": f"6f4d20e0-6bfe-4a80-9389-7dabe6620f{i:02d}",
             "signing_time": "2025-01-15T14:31:00"}
    with open(os.path.join(d, "chain.json"), "w") as f:
        json.dump(chain, f, indent=2)
        f.write("\n")
print(f"{len(cases)} cases")
