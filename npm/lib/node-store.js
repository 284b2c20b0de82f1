// Node storage of the key vault and the chain allocator: files written atomically
// (temporary file, fsync, rename) with mode 0600.
//
// Key vault file (JSON): the key sealed with AES-256-GCM under a key derived from the
// passphrase (PBKDF2-SHA256, 600 000 iterations by default, random salt), plus public material:
//   { format: "zatca-key-vault", version: 1, egs_unit_id, kdf: {name, hash, iterations, salt},
//     cipher: {name: "AES-GCM", iv}, ciphertext, public_key, certificate, ... }
//
// Chain allocator: `<path>` holds the chain head { format: "zatca-chain", version: 1,
// egs_unit_id, icv, pih }, `<path>.log` one JSON line per signed document (appended and
// fsynced before the head is replaced, so a crash in between is repaired from the log on the
// next read), and `<path>.lock` the cross-process lock (O_EXCL file holding the owner's pid; a
// lock whose process is gone is taken over).

import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

import { initialState } from './chain.js';
import { DEFAULT_ITERATIONS, checkIterations, fromBase64, passphraseKey, randomBytes, toBase64 } from './crypto.js';
import { ZatcaError } from './error.js';

const VAULT_FORMAT = 'zatca-key-vault';
const CHAIN_FORMAT = 'zatca-chain';

function storageError(e, what) {
  return new ZatcaError('storage_failed', `${what}: ${e?.message ?? e}`, { cause: e });
}

async function readJson(path) {
  let text;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e?.code === 'ENOENT') return null;
    throw storageError(e, `cannot read ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ZatcaError('storage_failed', `${path} is not valid JSON`, { cause: e });
  }
}

/** Replaces `path` with `text` atomically and durably. */
export async function writeFileAtomic(path, text) {
  const tmp = `${path}.tmp-${process.pid}-${nodeRandomBytes(6).toString('hex')}`;
  try {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw storageError(e, `cannot write ${path}`);
  }
}

/** Key vault storage in one passphrase-encrypted file. */
export class FileKeyStore {
  #keys = new Map();

  constructor(path, egsUnitId, passphrase, iterations = DEFAULT_ITERATIONS) {
    checkIterations(iterations);
    this.path = resolve(path);
    this.egsUnitId = egsUnitId;
    this.passphrase = passphrase;
    this.iterations = iterations;
    this.unsealErrorCode = 'wrong_passphrase';
    this.unsealErrorMessage = 'cannot decrypt the key vault: wrong passphrase, or the file was altered';
  }

  /** Reads the unit id recorded in the file (or null when there is no file). */
  async recordedUnitId() {
    const file = await readJson(this.path);
    return file ? this.#check(file).egs_unit_id : null;
  }

  #check(file) {
    if (file?.format !== VAULT_FORMAT || file.version !== 1 || typeof file.egs_unit_id !== 'string') {
      throw new ZatcaError('storage_failed', `${this.path} is not a ${VAULT_FORMAT} version 1 file`);
    }
    return file;
  }

  async load() {
    const file = await readJson(this.path);
    if (!file) return null;
    this.#check(file);
    return {
      kdf: file.kdf,
      sealed_key: { iv: fromBase64(file.cipher.iv, 'cipher.iv'), ciphertext: fromBase64(file.ciphertext, 'ciphertext') },
      public_key: fromBase64(file.public_key, 'public_key'),
      certificate: file.certificate ?? null,
      certificate_unchecked: file.certificate_unchecked === true,
      created_at: file.created_at,
    };
  }

  async save(record) {
    const file = {
      format: VAULT_FORMAT,
      version: 1,
      egs_unit_id: this.egsUnitId,
      kdf: record.kdf,
      cipher: { name: 'AES-GCM', iv: toBase64(record.sealed_key.iv) },
      ciphertext: toBase64(record.sealed_key.ciphertext),
      public_key: toBase64(record.public_key),
      certificate: record.certificate ?? null,
      certificate_unchecked: Boolean(record.certificate_unchecked),
      created_at: record.created_at,
      updated_at: new Date().toISOString(),
    };
    await writeFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`);
  }

  async remove() {
    await unlink(this.path).catch((e) => {
      if (e?.code !== 'ENOENT') throw storageError(e, `cannot delete ${this.path}`);
    });
  }

  async #derive(kdf) {
    if (kdf?.name !== 'PBKDF2' || kdf?.hash !== 'SHA-256' || !Number.isInteger(kdf?.iterations)) {
      throw new ZatcaError('storage_failed', `${this.path}: unsupported key derivation`);
    }
    const id = `${kdf.salt}/${kdf.iterations}`;
    let key = this.#keys.get(id);
    if (!key) {
      key = passphraseKey(this.passphrase, fromBase64(kdf.salt, 'kdf.salt'), kdf.iterations);
      this.#keys.set(id, key);
    }
    return key;
  }

  /** The passphrase key of the existing file (same salt), or of a new random salt. */
  async sealingKey() {
    const current = (await readJson(this.path))?.kdf;
    const kdf =
      current?.iterations === this.iterations
        ? current
        : { name: 'PBKDF2', hash: 'SHA-256', iterations: this.iterations, salt: toBase64(randomBytes(16)) };
    return { key: await this.#derive(kdf), extra: { kdf } };
  }

  unsealingKey(record) {
    return this.#derive(record.kdf);
  }
}

// ---------------------------------------------------------------- chain

const processLocks = new Map();

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e?.code === 'EPERM';
  }
}

async function acquireFileLock(lockPath, timeoutMs) {
  const start = Date.now();
  let delay = 1;
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx', 0o600);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return;
    } catch (e) {
      if (e?.code !== 'EEXIST') throw storageError(e, `cannot create ${lockPath}`);
    }
    // Take over a lock whose owner is gone (crashed while signing). An empty lock file is one
    // being written right now, unless it is old.
    try {
      const before = await stat(lockPath);
      const pid = Number.parseInt(await readFile(lockPath, 'utf8'), 10);
      const stale = Number.isInteger(pid) && pid > 0 ? !processAlive(pid) : Date.now() - before.mtimeMs > 10_000;
      if (stale) {
        const now = await stat(lockPath);
        if (now.ino === before.ino && now.mtimeMs === before.mtimeMs) await unlink(lockPath);
        continue;
      }
    } catch (e) {
      if (e?.code === 'ENOENT') continue;
      throw storageError(e, `cannot inspect ${lockPath}`);
    }
    if (Date.now() - start > timeoutMs) {
      throw new ZatcaError('chain_locked', `${lockPath} is held by another process for more than ${timeoutMs} ms`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 25);
  }
}

/** Chain storage in files, serialised in-process (per path) and across processes (lock file). */
export class FileChainStore {
  constructor(path, egsUnitId, initial, lockTimeoutMs = 30_000) {
    this.path = resolve(path);
    this.logPath = `${this.path}.log`;
    this.lockPath = `${this.path}.lock`;
    this.egsUnitId = egsUnitId ?? basename(this.path);
    this.initial = initialState(initial);
    this.lockTimeoutMs = lockTimeoutMs;
  }

  exclusive(fn) {
    const previous = processLocks.get(this.path) ?? Promise.resolve();
    const run = previous.then(async () => {
      await mkdir(dirname(this.path), { recursive: true }).catch((e) => {
        throw storageError(e, `cannot create ${dirname(this.path)}`);
      });
      await acquireFileLock(this.lockPath, this.lockTimeoutMs);
      try {
        return await fn();
      } finally {
        await unlink(this.lockPath).catch(() => {});
      }
    });
    const tail = run.catch(() => {});
    processLocks.set(this.path, tail);
    tail.then(() => {
      if (processLocks.get(this.path) === tail) processLocks.delete(this.path);
    });
    return run;
  }

  async #lastLogged() {
    let fh;
    try {
      fh = await open(this.logPath, 'r');
    } catch (e) {
      if (e?.code === 'ENOENT') return null;
      throw storageError(e, `cannot read ${this.logPath}`);
    }
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      const lines = buf.toString('utf8').split('\n').filter((l) => l.trim() !== '');
      for (let i = lines.length - 1; i >= 0; i--) {
        try {
          return JSON.parse(lines[i]);
        } catch {
          // A torn last line (crash while appending) is ignored: its head was never written.
        }
      }
      return null;
    } finally {
      await fh.close();
    }
  }

  async readState() {
    const head = await readJson(this.path);
    if (head && (head.format !== CHAIN_FORMAT || head.version !== 1)) {
      throw new ZatcaError('storage_failed', `${this.path} is not a ${CHAIN_FORMAT} version 1 file`);
    }
    if (head && head.egs_unit_id !== this.egsUnitId) {
      throw new ZatcaError('chain_conflict', `${this.path} holds the chain of ${head.egs_unit_id}, not ${this.egsUnitId}`);
    }
    let state = head ? { icv: head.icv, pih: head.pih } : { ...this.initial };
    const last = await this.#lastLogged();
    if (last && last.icv > state.icv) state = { icv: last.icv, pih: last.hash };
    return state;
  }

  async commit(head, record) {
    try {
      const fh = await open(this.logPath, 'a', 0o600);
      try {
        await fh.appendFile(`${JSON.stringify(record)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw storageError(e, `cannot append to ${this.logPath}`);
    }
    const file = {
      format: CHAIN_FORMAT,
      version: 1,
      egs_unit_id: this.egsUnitId,
      icv: record.icv,
      pih: record.hash,
      updated_at: record.recorded_at,
    };
    await writeFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`);
  }

  async history(from, limit) {
    let text;
    try {
      text = await readFile(this.logPath, 'utf8');
    } catch (e) {
      if (e?.code === 'ENOENT') return [];
      throw storageError(e, `cannot read ${this.logPath}`);
    }
    const byIcv = new Map();
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line);
        if (r.icv >= from) byIcv.set(r.icv, r);
      } catch {
        // torn line, see #lastLogged
      }
    }
    return [...byIcv.values()].sort((a, b) => a.icv - b.icv).slice(0, limit);
  }
}

const OUTBOX_FORMAT = 'zatca-outbox';

/**
 * Outbox storage in one JSON file (rewritten atomically on every change), serialised
 * in-process and, while a flush runs, across processes with a lock file.
 */
export class FileOutboxStore {
  #queue = Promise.resolve();
  #exclusive = Promise.resolve();

  constructor(path, lockTimeoutMs = 30_000) {
    this.path = resolve(path);
    this.lockPath = `${this.path}.lock`;
    this.lockTimeoutMs = lockTimeoutMs;
  }

  #serial(fn) {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #read() {
    const data = await readJson(this.path);
    if (data === null) return {};
    if (data.format !== OUTBOX_FORMAT || data.version !== 1 || typeof data.entries !== 'object') {
      throw new ZatcaError('storage_failed', `${this.path} is not a ${OUTBOX_FORMAT} version 1 file`);
    }
    return data.entries;
  }

  #write(entries) {
    return writeFileAtomic(this.path, `${JSON.stringify({ format: OUTBOX_FORMAT, version: 1, entries })}\n`);
  }

  all() {
    return this.#serial(async () => Object.values(await this.#read()));
  }

  put(entry) {
    return this.#serial(async () => {
      const entries = await this.#read();
      entries[entry.id] = entry;
      await this.#write(entries);
    });
  }

  remove(id) {
    return this.#serial(async () => {
      const entries = await this.#read();
      delete entries[id];
      await this.#write(entries);
    });
  }

  exclusive(fn) {
    const run = this.#exclusive.then(async () => {
      await acquireFileLock(this.lockPath, this.lockTimeoutMs);
      try {
        return await fn();
      } finally {
        await unlink(this.lockPath).catch(() => {});
      }
    });
    this.#exclusive = run.catch(() => {});
    return run;
  }
}
