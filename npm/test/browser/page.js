// The browser test page: loads the package without a bundler and exposes test steps on
// `window.zatcaTest` for test/browser.test.mjs (Playwright) to call in one or several tabs.
import init, {
  ChainAllocator,
  KeyVault,
  initRules,
  initTools,
  parseCsr,
  qrSvg,
  validate,
  verifyInvoice,
  version,
} from '@zatca-kit/zatca';

const log = (line) => {
  document.querySelector('#log').textContent += `${line}\n`;
};
const fixture = async (path) => {
  const res = await fetch(`/fixtures/${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.text();
};
const CSR_CONFIG = {
  common_name: 'TST-886431145-399999999900003',
  serial_number: '1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f',
  organization_identifier: '399999999900003',
  organization_unit: 'Riyadh Branch',
  organization_name: 'Maximum Speed Tech Supply LTD',
  country: 'SA',
  invoice_type: '1100',
  location_address: 'RRRD2929',
  industry_business_category: 'Supply activities',
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Whether `needle` occurs anywhere in `hay` (bytes). */
function contains(hay, needle) {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Every byte string and string of a stored record (what an attacker reading IndexedDB sees). */
function flatten(value, out = { bytes: [], text: [] }) {
  if (value instanceof Uint8Array) out.bytes.push(value);
  else if (value instanceof ArrayBuffer) out.bytes.push(new Uint8Array(value));
  else if (typeof value === 'string') out.text.push(value);
  else if (value && typeof value === 'object' && !(value instanceof CryptoKey)) for (const v of Object.values(value)) flatten(v, out);
  return out;
}

async function rawRecord(store, key) {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open('zatca');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  return new Promise((resolve, reject) => {
    const r = db.transaction(store).objectStore(store).get(key);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

const steps = {
  /** Generates a key in the vault, makes a CSR, signs with the sandbox certificate. */
  async generateAndSign() {
    const vault = await KeyVault.open({ egsUnitId: 'pos-generated' });
    const publicKey = await vault.generateKey({ overwrite: true });
    const csr = await vault.createCsr(CSR_CONFIG, 'sandbox');
    const csrMatches = equal(parseCsr(csr.pem).public_key, publicKey);
    await vault.setCertificate(await fixture('keys/sdk-test-cert.pem'), { unchecked: true });
    const input = JSON.parse(await fixture('invoices/simplified-invoice/input.json'));
    const { icv, pih, uuid } = JSON.parse(await fixture('invoices/simplified-invoice/chain.json'));
    const signed = await vault.signInvoice(input, { icv, pih, uuid });
    const issues = verifyInvoice(signed.xml).issues.map((i) => i.code);
    const record = await rawRecord('vault', 'pos-generated');
    const wrappingKey = record.wrapping_key;
    let exportError = null;
    try {
      await crypto.subtle.exportKey('raw', wrappingKey);
    } catch (e) {
      exportError = e.name;
    }
    document.querySelector('#qr').innerHTML = qrSvg(signed.qr);
    log(`generated key: public key ${publicKey.length} bytes, CSR ${csr.der.length} bytes, signed ICV ${signed.icv}`);
    return {
      publicKeyLength: publicKey.length,
      csrMatches,
      signedHash: signed.hash,
      verifyIssues: [...new Set(issues)],
      wrappingKey: {
        isCryptoKey: wrappingKey instanceof CryptoKey,
        extractable: wrappingKey.extractable,
        algorithm: wrappingKey.algorithm.name,
        length: wrappingKey.algorithm.length,
        usages: [...wrappingKey.usages].sort(),
        exportError,
      },
      sealed: {
        ivLength: record.sealed_key.iv.length,
        ciphertextLength: record.sealed_key.ciphertext.length,
        startsLikeDer: record.sealed_key.ciphertext[0] === 0x30 && record.sealed_key.ciphertext[1] === 0x74,
      },
      recordKeys: Object.keys(record).sort(),
    };
  },

  /** Imports the SDK test key and signs a golden case: the bytes must equal the native output. */
  async importAndSignGolden(name) {
    const vault = await KeyVault.open({ egsUnitId: 'pos-sdk' });
    const keyPem = await fixture('keys/sdk-test-key.pem');
    await vault.importPrivateKey(keyPem, { overwrite: true });
    await vault.setCertificate(await fixture('keys/sdk-test-cert.pem'));
    const { signing_time, ...chain } = JSON.parse(await fixture(`invoices/${name}/chain.json`));
    const signed = await vault.signInvoice(await fixture(`invoices/${name}/input.json`), chain, { signing_time });
    const expected = await fixture(`invoices/${name}/expected/signed.xml`);
    // The SDK key's secret scalar must not appear anywhere in what IndexedDB stores.
    const der = Uint8Array.from(atob(keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')), (c) => c.charCodeAt(0));
    const at = der.findIndex((b, i) => b === 0x04 && der[i + 1] === 0x20);
    const scalar = der.slice(at + 2, at + 34);
    const scalarHex = [...scalar].map((b) => b.toString(16).padStart(2, '0')).join('');
    const record = await rawRecord('vault', 'pos-sdk');
    const { bytes, text } = flatten(record);
    const leaks = bytes.some((b) => contains(b, scalar)) || text.some((t) => t.includes(scalarHex) || t.includes(keyPem.slice(40, 80)));
    const backup = await vault.exportBackup('browser backup passphrase', { iterations: 100000 });
    const restored = await KeyVault.open({ egsUnitId: 'pos-restored' });
    await restored.importBackup(backup, 'browser backup passphrase', { overwrite: true });
    const again = await restored.signInvoice(await fixture(`invoices/${name}/input.json`), chain, { signing_time });
    log(`golden ${name}: ${signed.xml === expected ? 'identical to the native bytes' : 'DIFFERENT'}`);
    return { identical: signed.xml === expected, leaks, backupRoundTrip: again.xml === signed.xml, length: signed.xml.length };
  },

  /**
   * Signs `count` invoices in this tab through the shared chain of `unit`: half one after the
   * other (so that two tabs interleave), half all at once.
   */
  async signMany(unit, count) {
    const vault = await KeyVault.open({ egsUnitId: 'pos-sdk' });
    const chain = await ChainAllocator.open({ egsUnitId: unit });
    const input = JSON.parse(await fixture('invoices/simplified-invoice/input.json'));
    const signed = [];
    const half = Math.ceil(count / 2);
    for (let i = 0; i < half; i++) signed.push(await chain.signInvoice(vault, { ...input, invoice_number: `TAB-${i}` }));
    signed.push(
      ...(await Promise.all(
        Array.from({ length: count - half }, (_, i) => chain.signInvoice(vault, { ...input, invoice_number: `TAB-${half + i}` })),
      )),
    );
    log(`tab signed ICVs ${signed.map((s) => s.icv).join(', ')}`);
    return signed.map((s) => s.icv);
  },

  /** Loads the validation module on demand and validates an SDK sample, intact and broken. */
  async validateSample() {
    const xml = await fixture('samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml');
    await initRules();
    const good = validate(xml);
    const bad = validate(xml.replace('<cbc:ChargeIndicator>false<', '<cbc:ChargeIndicator>no<'));
    log(`validate: sample ${good.valid ? 'valid' : 'INVALID'}, mutant ${bad.issues.map((i) => i.rule).join(' ')}`);
    return { good, bad: bad.issues.map((i) => [i.rule, i.location]) };
  },

  /** The chain history of `unit`, each link verified with the previous hash. */
  async checkChain(unit) {
    const chain = await ChainAllocator.open({ egsUnitId: unit });
    const history = await chain.history();
    let pih = history[0]?.pih;
    const broken = history.filter((r) => {
      const bad = r.pih !== pih;
      pih = r.hash;
      return bad;
    });
    const state = await chain.state();
    log(`chain ${unit}: ${history.length} documents, head ICV ${state.icv}, ${broken.length} broken links`);
    return { icvs: history.map((r) => r.icv), broken: broken.length, state };
  },
};

window.zatcaTest = steps;
try {
  await init();
  await initTools();
  window.zatcaReady = version();
  document.querySelector('#status').innerHTML = `<span class="ok">loaded zatca-wasm ${version()}</span>`;
} catch (e) {
  window.zatcaReady = `error: ${e.code ?? ''} ${e.message}`;
  document.querySelector('#status').innerHTML = `<span class="fail">${e.message}</span>`;
}
