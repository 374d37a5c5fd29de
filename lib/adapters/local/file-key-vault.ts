/**
 * The embedded `KeyVault`: a master key and an identity key in 0600 files, standing in for
 * KMS. It keeps KMS's contract rather than its convenience: the master key is read from
 * disk for each call and wiped afterwards (in KMS it never leaves the HSM), data keys are
 * bound to their encryption context, and callers only ever get data keys and signatures.
 *
 * Limits of the imitation: node:crypto copies keys into OpenSSL memory we cannot wipe, and
 * anyone who can read the directory holds every secret. It is for development and
 * single-machine deployments, not a substitute for an HSM.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomFillSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, FrostlineError, InfrastructureError } from '../../ports/errors.js';
import type { DataKey, EncryptionContext, IdentityAlgorithm, IdentityPublicKey, KeyVault } from '../../ports/key-vault.js';
import { canonicalBytes, concatBytes } from '../../protocol/encoding.js';
import { secretBytes } from '../../protocol/secret-scope.js';

const MASTER_KEY_FILE = 'master.key';
const IDENTITY_FILE = 'identity.pem';
const MASTER_KEY_BYTES = 32;
const DATA_KEY_BYTES = 32;

/** Layout of an encrypted data key: version || IV || ciphertext || GCM tag. */
const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BLOB_BYTES = 1 + IV_BYTES + DATA_KEY_BYTES + TAG_BYTES;

/** Largest PEM we accept for identity.pem; a P-256 or Ed25519 PKCS8 PEM is well under 1 KiB. */
const MAX_PEM_BYTES = 16 * 1024;

export interface FileKeyVaultOptions {
  /**
   * Algorithm of the identity key to create when none exists; an existing key must match.
   * @default 'ed25519'
   */
  readonly algorithm?: IdentityAlgorithm;
}

export class FileKeyVault implements KeyVault {
  private constructor(
    private readonly dir: string,
    private readonly algorithm: IdentityAlgorithm,
    private readonly publicKey: IdentityPublicKey,
    /**
     * Parsed once at open, unlike the master key. A KeyObject lives in OpenSSL memory that
     * no caller can wipe: re-reading identity.pem per call (as before) left one more such
     * copy per signature waiting for the garbage collector, so one long-lived copy exposes
     * no more, and the public key handed out at open is then always the one that signs.
     * Re-parsing the PEM cost about 1 ms per envelope, ~12 ms per signature.
     */
    private readonly identityKey: KeyObject,
  ) {}

  /** Opens the vault in `dir`, creating the directory and missing keys with owner-only modes. */
  static async open(dir: string, options?: FileKeyVaultOptions): Promise<FileKeyVault> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new InfrastructureError('vault:open', `could not create ${dir}`, { cause: error });
    }
    const masterPath = join(dir, MASTER_KEY_FILE);
    const identityPath = join(dir, IDENTITY_FILE);

    if (!(await exists(masterPath)) && (await exists(identityPath))) {
      // A vault that lost its master key: a fresh one would silently make every stored
      // share and nonce unreadable. Make the operator decide.
      throw new ConfigError(
        `${identityPath} exists but ${masterPath} is missing; restore the master key, or remove the whole vault directory to start over`,
      );
    }
    if (!(await createExclusive(masterPath, () => randomBytes(MASTER_KEY_BYTES)))) {
      await checkPrivateFile(masterPath, MASTER_KEY_BYTES);
    }
    const requested = options?.algorithm;
    if (!(await createExclusive(identityPath, () => newIdentityPem(requested ?? 'ed25519')))) {
      await checkPrivateFile(identityPath);
    }

    const privateKey = await readIdentity(identityPath);
    const algorithm = identityAlgorithm(privateKey, identityPath);
    if (requested !== undefined && requested !== algorithm) {
      throw new ConfigError(`${identityPath} holds a ${algorithm} key but ${requested} was requested`);
    }
    const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('hex');
    return new FileKeyVault(dir, algorithm, { alg: algorithm, spki }, privateKey);
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const aad = contextBytes(context);
    // Off the JavaScript heap: a 32-byte typed array would live in V8's heap and could be
    // moved by the garbage collector, leaving a copy the caller's wipe never reaches.
    const plaintext = randomFillSync(secretBytes(DATA_KEY_BYTES));
    const masterKey = await this.readMasterKey();
    try {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', masterKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad);
      const ciphertext = concatBytes(cipher.update(plaintext), cipher.final());
      const encrypted = concatBytes(Uint8Array.of(BLOB_VERSION), iv, ciphertext, cipher.getAuthTag());
      return { plaintext, encrypted };
    } catch (error) {
      plaintext.fill(0);
      throw new InfrastructureError('vault:generate-data-key', 'encryption failed', { cause: error });
    } finally {
      masterKey.fill(0);
    }
  }

  async decryptDataKey(encrypted: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const aad = contextBytes(context);
    // Length and version are checked before touching the master key; both failures look
    // the same to the caller as a wrong context, so the error says nothing about why.
    if (!(encrypted instanceof Uint8Array) || encrypted.length !== BLOB_BYTES || encrypted[0] !== BLOB_VERSION) {
      throw decryptFailed();
    }
    const iv = encrypted.subarray(1, 1 + IV_BYTES);
    const ciphertext = encrypted.subarray(1 + IV_BYTES, BLOB_BYTES - TAG_BYTES);
    const tag = encrypted.subarray(BLOB_BYTES - TAG_BYTES);
    const masterKey = await this.readMasterKey();
    let head: Buffer | undefined;
    let tail: Buffer | undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', masterKey, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      head = decipher.update(ciphertext);
      tail = decipher.final();
      // Into memory we own, off the JavaScript heap (see generateDataKey).
      const plaintext = secretBytes(head.length + tail.length);
      plaintext.set(head);
      plaintext.set(tail, head.length);
      return plaintext;
    } catch {
      // No cause: OpenSSL's message adds nothing and the context must not be echoed.
      throw decryptFailed();
    } finally {
      masterKey.fill(0);
      head?.fill(0);
      tail?.fill(0);
    }
  }

  async signIdentity(message: Uint8Array): Promise<Uint8Array> {
    try {
      // Ed25519 is pure (no prehash); P-256 hashes with SHA-256 and returns DER, like
      // KMS ECDSA_SHA_256 with MessageType RAW.
      const signature = sign(this.algorithm === 'ed25519' ? null : 'sha256', message, this.identityKey);
      return new Uint8Array(signature);
    } catch (error) {
      throw new InfrastructureError('vault:sign', 'identity signature failed', { cause: error });
    }
  }

  async identityPublicKey(): Promise<IdentityPublicKey> {
    return this.publicKey;
  }

  toJSON(): string {
    return '<FileKeyVault redacted>';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '<FileKeyVault redacted>';
  }

  /** Read per call into a buffer we own, so it can be wiped; nothing is cached. */
  private async readMasterKey(): Promise<Uint8Array> {
    const path = join(this.dir, MASTER_KEY_FILE);
    const key = await readOwned(path, MASTER_KEY_BYTES, 'vault:read-master-key');
    if (key.length !== MASTER_KEY_BYTES) {
      key.fill(0);
      throw new ConfigError(`${path} must be exactly ${MASTER_KEY_BYTES} bytes`);
    }
    return key;
  }
}

function decryptFailed(): FrostlineError {
  return new FrostlineError('decrypt-failed', 'data key could not be decrypted under this context');
}

/**
 * The AAD: RFC 8785 canonical JSON, so that key order never changes the bytes. Values must
 * be strings, as in KMS; the error names the offending key, never a value.
 */
function contextBytes(context: EncryptionContext): Uint8Array {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new FrostlineError('invalid-context', 'encryption context must be an object of strings');
  }
  for (const [name, value] of Object.entries(context)) {
    if (typeof value !== 'string') {
      throw new FrostlineError('invalid-context', `encryption context entry '${name}' must be a string`);
    }
  }
  return canonicalBytes(context);
}

function randomBytes(length: number): Uint8Array {
  // A fresh Uint8Array rather than crypto.randomBytes' Buffer: small Buffers may share a
  // pooled slab, and a secret we are going to wipe should own its memory.
  return randomFillSync(new Uint8Array(length));
}


function newIdentityPem(algorithm: IdentityAlgorithm): Uint8Array {
  const { privateKey } =
    algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return new TextEncoder().encode(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
}

/**
 * Creates `path` with owner-only permissions, failing if it exists ('wx'), so that two
 * processes starting at once cannot both write a key. Returns false if it already existed.
 */
async function createExclusive(path: string, content: () => Uint8Array): Promise<boolean> {
  let file;
  try {
    file = await open(path, 'wx', 0o600);
  } catch (error) {
    if (isErrnoException(error) && error.code === 'EEXIST') return false;
    throw new InfrastructureError('vault:open', `could not create ${path}`, { cause: error });
  }
  const bytes = content();
  try {
    await file.writeFile(bytes);
    await file.sync();
    return true;
  } catch (error) {
    throw new InfrastructureError('vault:open', `could not write ${path}`, { cause: error });
  } finally {
    bytes.fill(0);
    await file.close();
  }
}

/** Refuses a key file others can read: that would quietly defeat the whole vault. */
async function checkPrivateFile(path: string, expectedSize?: number): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new InfrastructureError('vault:open', `could not stat ${path}`, { cause: error });
  }
  if (!info.isFile()) throw new ConfigError(`${path} is not a regular file`);
  // Windows has no POSIX modes; the check would always fail there.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, '0');
    throw new ConfigError(`${path} has mode ${mode}, which lets other users read it; run: chmod 600 ${path}`);
  }
  if (expectedSize !== undefined && info.size !== expectedSize) {
    throw new ConfigError(`${path} must be exactly ${expectedSize} bytes, found ${info.size}`);
  }
}

async function readIdentity(path: string): Promise<KeyObject> {
  const pem = await readOwned(path, MAX_PEM_BYTES, 'vault:read-identity');
  try {
    return createPrivateKey({ key: Buffer.from(pem.buffer, pem.byteOffset, pem.length), format: 'pem' });
  } catch {
    throw new ConfigError(`${path} is not a PKCS8 PEM private key`);
  } finally {
    pem.fill(0);
  }
}

/**
 * Reads a small secret file into a buffer this module owns (fs.readFile may hand back a
 * slice of shared memory). The caller wipes the result; on error it is wiped here.
 * One byte of spare room tells a file of exactly `maxBytes` from a longer one.
 * Synchronous: a read of a few dozen cached bytes takes microseconds, where the promise
 * API's open/read/close round trips through the thread pool cost ~1.5 ms of CPU per
 * signature (the master key is read for every data key).
 */
async function readOwned(path: string, maxBytes: number, operation: string): Promise<Uint8Array> {
  const buffer = new Uint8Array(maxBytes + 1);
  let length = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      for (;;) {
        const bytesRead = readSync(fd, buffer, length, buffer.length - length, null);
        length += bytesRead;
        if (bytesRead === 0 || length === buffer.length) break;
      }
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    buffer.fill(0);
    throw new InfrastructureError(operation, `could not read ${path}`, { cause: error });
  }
  if (length > maxBytes) {
    buffer.fill(0);
    throw new ConfigError(`${path} is larger than ${maxBytes} bytes`);
  }
  return buffer.subarray(0, length);
}

function identityAlgorithm(key: KeyObject, path: string): IdentityAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'p256';
  throw new ConfigError(`${path} must hold an Ed25519 or P-256 private key, found ${key.asymmetricKeyType ?? 'unknown'}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return false;
    throw new InfrastructureError('vault:open', `could not stat ${path}`, { cause: error });
  }
}

function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}
