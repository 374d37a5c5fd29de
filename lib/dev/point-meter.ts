/**
 * Counts point checks per node and per handler step on the embedded cluster (tests and
 * `npm run bench`): each node gets its own suite, as each party has its own process in a
 * deployment, so a count is what one party's process does, not what a shared cache saves.
 */
import { createFROST } from '@noble/curves/abstract/frost.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import type { MessageHandler } from '../adapters/local/event-source.js';
import { createEd25519Suite, ED25519_TRAITS, verifyEd25519WithOpenSSL, type Suite } from '../protocol/suite.js';
import { elementCheck, type PointCounts } from '../protocol/validated-points.js';

/**
 * - `stock`: noble's `ed25519_FROST` rebuilt with a decode counter (every decode is a full
 *   check, and its hook repeats the curve and subgroup checks): the "before".
 * - `warm`: our suite, one per node, its cache kept across that node's invocations.
 * - `cold`: our suite, its cache cleared before every invocation (a fresh process each time).
 */
export type PointMeterMode = 'stock' | 'warm' | 'cold';

export interface MeteredSuite extends Suite {
  readonly points: { counts(): PointCounts; clear(): void };
}

/** One handler invocation on one node. */
export interface MeteredStep {
  readonly node: string;
  /** The envelope type the node handled. */
  readonly type: string;
  readonly validations: number;
  readonly decodes: number;
  /** User + system CPU of the invocation (handlers run one at a time on the cluster). */
  readonly cpuMs: number;
}

/** `ed25519_FROST` exactly as noble builds it, over a Point whose decodes are counted. */
export function stockCountingSuite(): MeteredSuite {
  let decodes = 0;
  class CountingPoint extends ed25519.Point {
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof ed25519.Point;
    }

    static override fromBytes(bytes: Uint8Array, zip215 = false): InstanceType<typeof ed25519.Point> {
      decodes += 1;
      return ed25519.Point.fromBytes(bytes, zip215);
    }
  }
  const frost = createFROST({
    name: 'FROST-ED25519-SHA512-v1',
    Point: CountingPoint,
    // ed25519_FROST's hook, as in @noble/curves 2.4.0 ed25519.ts.
    validatePoint: (p) => {
      p.assertValidity();
      if (!p.isTorsionFree()) throw new Error('bad point: not torsion-free');
    },
    hash: sha512,
    H2: '',
  });
  return {
    ...ED25519_TRAITS,
    frost,
    Point: CountingPoint,
    isValidElement: elementCheck(CountingPoint),
    verifyFinal: verifyEd25519WithOpenSSL,
    // Every stock decode runs the full check: validations = decodes.
    points: { counts: () => ({ decodes, validations: decodes }), clear: () => undefined },
  };
}

function typeOf(raw: string): string {
  try {
    const type = (JSON.parse(raw) as { type?: unknown }).type;
    return typeof type === 'string' ? type : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Give `suiteFor` and `wrapHandler` to `LocalCluster.open`; read `steps` afterwards. */
export class PointMeter {
  readonly suites = new Map<string, MeteredSuite>();
  readonly steps: MeteredStep[] = [];

  constructor(readonly mode: PointMeterMode) {}

  readonly suiteFor = (node: string): MeteredSuite => {
    let suite = this.suites.get(node);
    if (suite === undefined) {
      suite = this.mode === 'stock' ? stockCountingSuite() : createEd25519Suite();
      this.suites.set(node, suite);
    }
    return suite;
  };

  readonly wrapHandler = (node: string, handler: MessageHandler): MessageHandler => {
    return async (body, context) => {
      const suite = this.suiteFor(node);
      if (this.mode === 'cold') suite.points.clear();
      const before = suite.points.counts();
      const cpu = process.cpuUsage();
      try {
        await handler(body, context);
      } finally {
        const used = process.cpuUsage(cpu);
        const after = suite.points.counts();
        this.steps.push({
          node,
          type: typeOf(body),
          validations: after.validations - before.validations,
          decodes: after.decodes - before.decodes,
          cpuMs: (used.user + used.system) / 1000,
        });
      }
    };
  };

}
