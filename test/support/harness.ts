/**
 * Shared test support: temp directories that are always removed, an independent Ed25519
 * check with node:crypto, and a LocalCluster whose interceptor and handler wrapper can be
 * swapped between steps of one test.
 */
import { createPublicKey, verify } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type Interceptor, type LocalClusterOptions } from '../../lib/dev/cluster.js';
import type { MessageHandler } from '../../lib/adapters/local/event-source.js';
import { SqliteItemBackend } from '../../lib/adapters/local/sqlite-backend.js';
import type { Clock } from '../../lib/ports/clock.js';
import type { KeyVault } from '../../lib/ports/key-vault.js';
import type { StoredItem } from '../../lib/ports/store.js';
import type { Destination } from '../../lib/ports/transport.js';
import { newMessageId, signEnvelope } from '../../lib/protocol/envelope.js';
import type { Logger } from '../../lib/protocol/logger.js';
import { COORDINATOR, EnvelopeSchema, MessageType, type Envelope, type UnsignedEnvelope } from '../../lib/protocol/messages.js';

// ---- temp dirs ----------------------------------------------------------------------

/** Owns temp dirs and clusters of one test file; `cleanup()` closes and removes them all. */
export class Scratch {
  readonly #dirs: string[] = [];
  readonly #clusters: LocalCluster[] = [];

  async dir(prefix = 'frostline-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.#dirs.push(dir);
    return dir;
  }

  own(cluster: LocalCluster): LocalCluster {
    this.#clusters.push(cluster);
    return cluster;
  }

  async cleanup(): Promise<void> {
    for (const cluster of this.#clusters.splice(0)) {
      try {
        await cluster.close();
      } catch {
        // already closed by the test
      }
    }
    await Promise.all(this.#dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

// ---- independent signature check ------------------------------------------------------

/** RFC 8032 verification through OpenSSL, written here so the tests do not trust lib's verifier. */
export function opensslVerifies(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  const pub = Buffer.from(publicKeyHex, 'hex');
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
  return verify(null, message, key, Buffer.from(signatureHex, 'hex'));
}

// ---- envelopes ------------------------------------------------------------------------

export function parseRaw(raw: string): Envelope {
  return EnvelopeSchema.parse(JSON.parse(raw));
}

export function typeOf(raw: string): string {
  return (JSON.parse(raw) as { type: string }).type;
}

/** The body of an envelope as a plain record, for tests that tamper with it. */
export function bodyOf(envelope: Envelope): Record<string, unknown> {
  return envelope.body as Record<string, unknown>;
}

/** Signs `envelope` (with `changes`) again under `vault`: what a sender holding that key can do. */
export async function resign(vault: KeyVault, envelope: Envelope, changes: Partial<UnsignedEnvelope> = {}): Promise<string> {
  const { sig: _sig, ...unsigned } = envelope;
  return JSON.stringify(await signEnvelope(vault, { ...unsigned, ...changes }));
}

/** The same content as a brand-new message (fresh id and timestamp), signed by `vault`. */
export async function freshCopy(vault: KeyVault, envelope: Envelope, now: number, body?: unknown): Promise<string> {
  return resign(vault, envelope, { id: newMessageId(), ts: now, ...(body !== undefined ? { body } : {}) });
}

// ---- clusters -------------------------------------------------------------------------

export interface Sent {
  readonly from: string;
  readonly destination: Destination;
  readonly body: string;
}

export interface Hooks {
  /** Replaces the default pass-through; may drop, duplicate, alter or throw. */
  intercept?: Interceptor;
  /** Runs instead of the node's handler; call `handler` to deliver. */
  wrap?: (node: string, body: string, context: { messageId: string; receiveCount: number }, handler: MessageHandler) => Promise<void>;
}

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

export interface Harness {
  readonly cluster: LocalCluster;
  readonly dir: string;
  readonly hooks: Hooks;
  /** Every message as sent (before the interceptor changed it). */
  readonly sent: Sent[];
  readonly logs: LogEntry[];
}

export type HarnessOptions = Omit<LocalClusterOptions, 'dataDir' | 'intercept' | 'wrapHandler' | 'logger'>;

export async function openHarness(dir: string, options: HarnessOptions = {}): Promise<Harness> {
  const hooks: Hooks = {};
  const sent: Sent[] = [];
  const logs: LogEntry[] = [];
  const logger: Logger = {
    info: (message, fields = {}) => logs.push({ level: 'info', message, fields }),
    warn: (message, fields = {}) => logs.push({ level: 'warn', message, fields }),
    error: (message, fields = {}) => logs.push({ level: 'error', message, fields }),
  };
  const cluster = await LocalCluster.open({
    // Attack and delivery tests script who answers first (e.g. the first two committers sign):
    // they keep the reproducible one-message-at-a-time order unless they ask for concurrency.
    deliveryConcurrency: 'serial',
    ...options,
    dataDir: dir,
    logger,
    intercept: (message) => {
      sent.push(message);
      return hooks.intercept !== undefined ? hooks.intercept(message) : [message.body];
    },
    wrapHandler: (node, handler) => async (body, context) => {
      if (hooks.wrap !== undefined) return hooks.wrap(node, body, context, handler);
      return handler(body, context);
    },
  });
  return { cluster, dir, hooks, sent, logs };
}

/** A data directory holding a finished keygen, to be copied by tests that need a key. */
export interface Fixture {
  readonly dir: string;
  readonly keyId: string;
  readonly publicKey: string;
  readonly threshold: number;
  readonly parties: number;
}

export async function makeFixture(scratch: Scratch, parties: number, threshold: number, keyId = 'k1'): Promise<Fixture> {
  const dir = await scratch.dir('frostline-fixture-');
  const { cluster } = await openHarness(dir, { parties });
  try {
    const result = await cluster.keygen({ keyId, threshold });
    if (!result.ok || result.publicKey === undefined) throw new Error(`fixture keygen failed: ${JSON.stringify(result.error)}`);
    return { dir, keyId, publicKey: result.publicKey, threshold, parties };
  } finally {
    await cluster.close();
  }
}

/** Opens a cluster on a private copy of the fixture's data directory. */
export async function openFromFixture(scratch: Scratch, fixture: Fixture, options: HarnessOptions = {}): Promise<Harness> {
  const dir = await scratch.dir();
  await cp(fixture.dir, dir, { recursive: true });
  const harness = await openHarness(dir, options);
  scratch.own(harness.cluster);
  return harness;
}

/** Reads a node's store directly (after its cluster was closed). */
export async function storeItems(dir: string, node: string, pkPrefix: string): Promise<StoredItem[]> {
  const path = node === 'coordinator' ? join(dir, 'coordinator', 'store.sqlite') : join(dir, 'parties', node, 'store.sqlite');
  const store = await SqliteItemBackend.open(path);
  try {
    return await store.scanPrefix(pkPrefix);
  } finally {
    store.close();
  }
}

/** A clock that runs with real time plus an offset the test can advance. */
export class SteppedClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export function requiredVault(cluster: LocalCluster, node: string): KeyVault {
  const vault = cluster.vaults.get(node);
  if (vault === undefined) throw new Error(`no vault for ${node}`);
  return vault;
}

export function requiredParty(cluster: LocalCluster, node: string) {
  const party = cluster.parties.get(node);
  if (party === undefined) throw new Error(`no party ${node}`);
  return party;
}

export const encoder = new TextEncoder();

/**
 * A malicious coordinator: every `sign.package` it sends carries the initiator's request with
 * `change` applied to the request body, and is re-signed with the coordinator's own identity
 * key. Returns how many packages it rewrote so far.
 */
export function rewriteRelayedSignRequest(harness: Harness, change: (requestBody: Record<string, unknown>) => Record<string, unknown>): () => number {
  const coordinatorVault = requiredVault(harness.cluster, COORDINATOR);
  let rewritten = 0;
  harness.hooks.intercept = async ({ from, body }) => {
    if (from !== COORDINATOR || typeOf(body) !== MessageType.signPackage) return [body];
    const envelope = parseRaw(body);
    const request = bodyOf(envelope).request as Envelope;
    rewritten += 1;
    return [await resign(coordinatorVault, envelope, { body: { ...bodyOf(envelope), request: { ...request, body: change(bodyOf(request)) } } })];
  };
  return () => rewritten;
}
