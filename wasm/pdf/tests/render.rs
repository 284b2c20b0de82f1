//! Renders every signed document of the golden corpus and every SDK sample, then checks the
//! PDF with independent tools: `qpdf --check` (structure), `qpdf --show-attachment` (the
//! embedded XML is the input, byte for byte), `pdftotext` (every amount and identifier of the
//! XML is on the page), `pdftoppm` + `zbarimg` (the QR code scans back to the XML's QR text), and
//! the PDF/A-3b objects (XMP identification, sRGB output intent, associated file referenced from
//! the catalog's `/AF`, every font embedded) followed from the catalog in qpdf's JSON.
//!
//! The tools come from Debian's poppler-utils, qpdf and zbar-tools (scripts/test.sh installs
//! them); a missing tool fails the test with the package to install. The PDFs and page-1 PNGs
//! are kept under `$CARGO_TARGET_TMPDIR/zatca-pdf/` for people to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use zatca_core::xml::{self, Element, NS_CAC, NS_CBC, Node};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zatca-pdf");
    std::fs::create_dir_all(&dir).expect("create the artefact directory");
    dir
}

/// Every signed document: the golden corpus and the SDK samples (plus the third-party one).
fn documents() -> Vec<(String, PathBuf)> {
    let mut docs = Vec::new();
    let corpus = repo().join("tests/fixtures/invoices");
    for entry in std::fs::read_dir(&corpus).expect("read the corpus") {
        let dir = entry.expect("corpus entry").path();
        let signed = dir.join("expected/signed.xml");
        if signed.is_file() {
            let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
            docs.push((name, signed));
        }
    }
    let mut stack = vec![
        repo().join("tests/fixtures/samples/sdk-R3.4.8/Simplified"),
        repo().join("tests/fixtures/samples/sdk-R3.4.8/Standard"),
        repo().join("tests/fixtures/samples/third-party"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the samples") {
            let path = entry.expect("sample entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "xml") {
                let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                docs.push((format!("sdk-{}", stem.replace(' ', "_")), path));
            }
        }
    }
    docs.sort();
    assert!(
        docs.len() >= 40,
        "expected the 20 corpus documents and the SDK samples, found {}",
        docs.len()
    );
    docs
}

fn run(tool: &str, package: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{tool}` ({e}); install Debian's {package} (scripts/test.sh does: apt-get install -y {package})"
        )
    });
    assert!(
        out.status.success(),
        "`{tool} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The strings the page must show, read straight from the XML (not through the renderer's own
/// reader): invoice number, UUID, VAT numbers, party IDs, billing references, line quantities
/// and amounts, tax subtotals, document allowances and charges, monetary totals, tax totals.
fn expected_strings(xml_text: &str) -> Vec<String> {
    let doc = xml::parse(xml_text).expect("the fixture parses");
    let root = &doc.root;
    let mut out = Vec::new();
    let text = |e: &Element<'_>| e.text().trim().to_owned();
    for name in ["ID", "UUID", "IssueDate"] {
        if let Some(e) = root.child(NS_CBC, name) {
            out.push(text(e));
        }
    }
    fn walk(el: &Element<'_>, path: &mut Vec<String>, out: &mut Vec<String>) {
        for child in &el.children {
            let Node::Element(e) = child else { continue };
            let local = e.local_name().to_owned();
            if matches!(
                local.as_str(),
                "UBLExtensions" | "Signature" | "AdditionalDocumentReference"
            ) {
                continue;
            }
            path.push(local.clone());
            let value = e.text().trim().to_owned();
            let in_price = path.iter().any(|p| p == "Price");
            let amount = e.attr("currencyID").is_some();
            let wanted = (amount
                && !(in_price && local == "Amount" && value.trim_start_matches(['0', '.']).is_empty()))
                || matches!(
                    local.as_str(),
                    "CompanyID" | "InvoicedQuantity" | "CreditedQuantity" | "DebitedQuantity"
                )
                || (local == "ID"
                    && path
                        .iter()
                        .any(|p| p == "PartyIdentification" || p == "InvoiceDocumentReference"));
            if wanted && e.elements().next().is_none() && !value.is_empty() {
                out.push(value);
            }
            walk(e, path, out);
            path.pop();
        }
    }
    walk(root, &mut Vec::new(), &mut out);
    out.sort();
    out.dedup();
    out
}

fn qr_text(xml_text: &str) -> String {
    let doc = xml::parse(xml_text).expect("the fixture parses");
    doc.root
        .elements()
        .filter(|e| e.is(NS_CAC, "AdditionalDocumentReference"))
        .find(|r| r.child(NS_CBC, "ID").is_some_and(|id| id.text().trim() == "QR"))
        .and_then(|r| r.path(&[(NS_CAC, "Attachment"), (NS_CBC, "EmbeddedDocumentBinaryObject")]))
        .map(|e| e.text().split_whitespace().collect())
        .expect("the fixture has a QR code")
}

fn check(name: &str, source: &Path, dir: &Path) {
    let xml_bytes = std::fs::read(source).expect("read the fixture");
    let xml_text = String::from_utf8(xml_bytes.clone()).expect("UTF-8 fixture");
    let pdf = zatca_pdf::render(&xml_bytes, &zatca_pdf::Options::default())
        .unwrap_or_else(|e| panic!("{name}: render failed: {e}"));
    let pdf_path = dir.join(format!("{name}.pdf"));
    std::fs::write(&pdf_path, &pdf).expect("write the PDF");
    let p = pdf_path.to_str().expect("UTF-8 path");

    // Structure.
    run("qpdf", "qpdf", &["--check", p]);

    // The embedded file is the XML as given.
    let listing = String::from_utf8(run("qpdf", "qpdf", &["--list-attachments", p])).expect("UTF-8 listing");
    let key = listing.split(" -> ").next().unwrap_or_default().trim().to_owned();
    assert!(!key.is_empty(), "{name}: no attachment listed: {listing}");
    let attached = run("qpdf", "qpdf", &[&format!("--show-attachment={key}"), p]);
    assert!(attached == xml_bytes, "{name}: the embedded XML differs from the input");

    // PDF/A-3b objects, followed from the catalog in qpdf's JSON.
    pdfa_structure(name, p, &xml_bytes);

    // Every amount and identifier of the XML is on the page (bidi controls removed).
    let text = String::from_utf8(run("pdftotext", "poppler-utils", &["-enc", "UTF-8", p, "-"])).expect("UTF-8 text");
    let text: String = text
        .chars()
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'))
        .collect();
    let missing: Vec<String> = expected_strings(&xml_text)
        .into_iter()
        .filter(|s| !text.contains(s.as_str()))
        .collect();
    assert!(missing.is_empty(), "{name}: not on the page: {missing:?}");
    // Arabic comes out as text (shaped glyphs keep their Unicode mapping).
    for word in ["فاتورة", "ضريبة", "البائع"] {
        if word == "فاتورة" && (xml_text.contains(">381<") || xml_text.contains(">383<")) {
            continue;
        }
        assert!(text.contains(word), "{name}: `{word}` not in the extracted text");
    }

    // Page 1 renders, and its QR code scans back to the XML's QR text.
    let png_prefix = dir.join(name);
    let pp = png_prefix.to_str().expect("UTF-8 path");
    run(
        "pdftoppm",
        "poppler-utils",
        &["-r", "200", "-f", "1", "-l", "1", "-png", "-singlefile", p, pp],
    );
    let png = format!("{pp}.png");
    let scanned = run(
        "zbarimg",
        "zbar-tools",
        &["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", &png],
    );
    let scanned = String::from_utf8(scanned).expect("UTF-8 QR");
    assert_eq!(
        scanned.trim_end_matches('\n'),
        qr_text(&xml_text),
        "{name}: the QR code scans to something else"
    );
}

/// The objects of a PDF as qpdf sees them (`qpdf --json=2`, streams decoded and inline).
struct Objects(serde_json::Map<String, serde_json::Value>);

impl Objects {
    fn read(pdf: &str) -> Objects {
        let json = run(
            "qpdf",
            "qpdf",
            &[
                "--json=2",
                "--json-key=qpdf",
                "--json-stream-data=inline",
                "--decode-level=generalized",
                pdf,
            ],
        );
        let mut json: serde_json::Value = serde_json::from_slice(&json).expect("qpdf's JSON");
        match json["qpdf"][1].take() {
            serde_json::Value::Object(objects) => Objects(objects),
            other => panic!("no objects in qpdf's JSON: {other}"),
        }
    }

    /// An object's value (a stream's dictionary), following an indirect reference.
    fn get<'a>(&'a self, value: &'a serde_json::Value) -> &'a serde_json::Value {
        match value.as_str().and_then(|r| self.0.get(&format!("obj:{r}"))) {
            Some(object) if object.get("stream").is_some() => &object["stream"]["dict"],
            Some(object) => self.get(&object["value"]),
            None => value,
        }
    }

    /// A stream's decoded bytes.
    fn data(&self, reference: &serde_json::Value) -> Vec<u8> {
        use base64::Engine as _;
        let object = reference
            .as_str()
            .and_then(|r| self.0.get(&format!("obj:{r}")))
            .unwrap_or_else(|| panic!("{reference} is not an object"));
        let data = object["stream"]["data"]
            .as_str()
            .unwrap_or_else(|| panic!("{reference} is not a stream"));
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 stream data")
    }
}

/// PDF/A-3b's structure, followed from the catalog: XMP metadata identifying part 3,
/// conformance B; a GTS_PDFA1 output intent with an RGB ICC profile (sRGB); every font of every
/// page embedded (a FontFile2/FontFile3 in its descriptor); the XML as an associated file
/// (`/AF` in the catalog → filespec with `AFRelationship /Source` → an `application/xml`
/// embedded file equal to the input), also listed in the EmbeddedFiles name tree.
fn pdfa_structure(name: &str, pdf: &str, xml: &[u8]) {
    let objects = Objects::read(pdf);
    let trailer = &objects.0["trailer"]["value"];
    let catalog = objects.get(&trailer["/Root"]);
    assert_eq!(catalog["/Type"], "/Catalog", "{name}: no catalog");

    let metadata = &catalog["/Metadata"];
    assert_eq!(objects.get(metadata)["/Subtype"], "/XML", "{name}: metadata is not XMP");
    let xmp = String::from_utf8(objects.data(metadata)).expect("UTF-8 XMP");
    let part = xmp.contains("<pdfaid:part>3</pdfaid:part>") || xmp.contains("pdfaid:part=\"3\"");
    let conformance =
        xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>") || xmp.contains("pdfaid:conformance=\"B\"");
    assert!(
        part && conformance,
        "{name}: the XMP lacks pdfaid part 3 / conformance B"
    );

    let intents = objects
        .get(&catalog["/OutputIntents"])
        .as_array()
        .expect("OutputIntents array");
    assert_eq!(intents.len(), 1, "{name}: {} output intents", intents.len());
    let intent = objects.get(&intents[0]);
    assert_eq!(intent["/S"], "/GTS_PDFA1", "{name}: the output intent is not PDF/A's");
    let condition = format!("{} {}", intent["/OutputCondition"], intent["/Info"]);
    assert!(
        condition.contains("sRGB"),
        "{name}: the output intent is not sRGB: {condition}"
    );
    let profile = &intent["/DestOutputProfile"];
    assert_eq!(
        objects.get(profile)["/N"],
        3,
        "{name}: the ICC profile is not 3-component"
    );
    let icc = objects.data(profile);
    assert_eq!(
        icc.get(16..20),
        Some(&b"RGB "[..]),
        "{name}: the ICC profile is not RGB"
    );
    assert_eq!(icc.get(36..40), Some(&b"acsp"[..]), "{name}: not an ICC profile");

    let mut fonts = 0;
    let mut pages = vec![objects.get(&catalog["/Pages"])];
    while let Some(node) = pages.pop() {
        if let Some(kids) = node["/Kids"].as_array() {
            pages.extend(kids.iter().map(|k| objects.get(k)));
            continue;
        }
        let resources = objects.get(&node["/Resources"]);
        let Some(page_fonts) = objects.get(&resources["/Font"]).as_object() else {
            continue;
        };
        for font in page_fonts.values() {
            let font = objects.get(font);
            let descendants = objects
                .get(&font["/DescendantFonts"])
                .as_array()
                .cloned()
                .unwrap_or_default();
            let leaves: Vec<&serde_json::Value> = if descendants.is_empty() {
                vec![font]
            } else {
                descendants.iter().map(|d| objects.get(d)).collect()
            };
            for leaf in leaves {
                let descriptor = objects.get(&leaf["/FontDescriptor"]);
                let program = ["/FontFile", "/FontFile2", "/FontFile3"]
                    .iter()
                    .find(|k| descriptor.get(**k).is_some())
                    .unwrap_or_else(|| panic!("{name}: font {} is not embedded", leaf["/BaseFont"]));
                assert!(
                    !objects.data(&descriptor[*program]).is_empty(),
                    "{name}: font {} has an empty program",
                    leaf["/BaseFont"]
                );
                fonts += 1;
            }
        }
    }
    assert!(fonts > 0, "{name}: no fonts");

    let associated = objects
        .get(&catalog["/AF"])
        .as_array()
        .expect("the catalog's /AF array");
    assert_eq!(associated.len(), 1, "{name}: {} associated files", associated.len());
    let filespec = objects.get(&associated[0]);
    assert_eq!(
        filespec["/Type"], "/Filespec",
        "{name}: /AF does not name a file specification"
    );
    assert_eq!(
        filespec["/AFRelationship"], "/Source",
        "{name}: AFRelationship is not Source"
    );
    let file = &objects.get(&filespec["/EF"])["/F"];
    let subtype = objects.get(file)["/Subtype"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        subtype == "/application#2fxml" || subtype == "/application/xml",
        "{name}: the attachment is {subtype}, not application/xml"
    );
    assert!(
        objects.data(file) == xml,
        "{name}: the associated file is not the input XML"
    );
    let tree = objects.get(&objects.get(&catalog["/Names"])["/EmbeddedFiles"]);
    let listed = tree["/Names"].as_array().expect("EmbeddedFiles names");
    assert!(
        listed.iter().any(|v| v == &associated[0]),
        "{name}: the associated file is not in the EmbeddedFiles name tree"
    );
}

#[test]
fn corpus_and_sdk_samples() {
    let dir = artefacts();
    let docs = documents();
    // Two workers: the external tools dominate and CI has two cores.
    let (a, b) = docs.split_at(docs.len() / 2);
    std::thread::scope(|s| {
        for half in [a, b] {
            let dir = &dir;
            s.spawn(move || {
                for (name, path) in half {
                    check(name, path, dir);
                }
            });
        }
    });
    eprintln!(
        "{} documents rendered and checked; PDFs and PNGs in {}",
        docs.len(),
        dir.display()
    );
}

#[test]
fn bad_input_is_a_structured_error() {
    let cases: [(&[u8], &str); 6] = [
        (b"", "invalid_xml"),
        (b"not xml", "invalid_xml"),
        (b"\xff\xfe<Invoice/>", "xml_not_utf8"),
        (
            b"<Order xmlns=\"urn:x\"><ID>1</ID></Order>",
            "unsupported_document_type",
        ),
        (b"<!DOCTYPE x [<!ENTITY a \"b\">]><Invoice/>", "invalid_xml"),
        (
            b"<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"/>",
            "missing_field",
        ),
    ];
    for (input, code) in cases {
        let err = zatca_pdf::render(input, &zatca_pdf::Options::default()).expect_err("bad input must fail");
        assert_eq!(err.code(), code, "{:?}: {err}", String::from_utf8_lossy(input));
    }
    // An unsigned document has no QR code: it cannot be printed as an e-invoice.
    let unsigned =
        std::fs::read(repo().join("tests/fixtures/invoices/standard-invoice/expected/unsigned.xml")).expect("fixture");
    let err = zatca_pdf::render(&unsigned, &zatca_pdf::Options::default()).expect_err("unsigned");
    assert_eq!(err.code(), "missing_qr");
    // Truncated documents fail cleanly at every length.
    let signed =
        std::fs::read(repo().join("tests/fixtures/invoices/standard-invoice/expected/signed.xml")).expect("fixture");
    for len in (0..signed.len()).step_by(97) {
        assert!(zatca_pdf::render(&signed[..len], &zatca_pdf::Options::default()).is_err());
    }
}

#[test]
fn unusual_text() {
    let signed =
        std::fs::read(repo().join("tests/fixtures/invoices/standard-invoice/expected/signed.xml")).expect("fixture");
    let signed = String::from_utf8(signed).expect("UTF-8");
    // Tabs and line breaks in names print as spaces; long unbroken words are cut to fit.
    let odd = signed.replacen(
        "<cbc:Name>Book",
        "<cbc:Name>Book\tvolume&#10;two ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ",
        1,
    );
    assert_ne!(odd, signed);
    zatca_pdf::render(odd.as_bytes(), &zatca_pdf::Options::default()).expect("renders");
    // A character neither font has cannot be shown (PDF/A forbids .notdef): a structured error.
    let emoji = signed.replacen("<cbc:Name>Book", "<cbc:Name>Book \u{1F4DA}", 1);
    let err = zatca_pdf::render(emoji.as_bytes(), &zatca_pdf::Options::default()).expect_err("no glyph");
    assert_eq!(err.code(), "unsupported_character", "{err}");
}

#[test]
fn output_is_deterministic() {
    let signed =
        std::fs::read(repo().join("tests/fixtures/invoices/simplified-invoice/expected/signed.xml")).expect("fixture");
    let a = zatca_pdf::render(&signed, &zatca_pdf::Options::default()).expect("renders");
    let b = zatca_pdf::render(&signed, &zatca_pdf::Options::default()).expect("renders");
    assert!(a == b, "two renderings of the same XML differ");
}
