/**
 * The sweeper's environment and metric names, shared by `functions/sweeper.ts` and the
 * coordinator stack (which sets the variables and alarms on the metric).
 */
import { z } from 'zod';
import { ConfigError } from '../ports/errors.js';
import { RuntimeEnv } from './runtime.js';

export const SweeperEnv = {
  /** The coordinator's sessions table. */
  tableName: RuntimeEnv.tableName,
  /** A session still open this many minutes after it started is reported as stalled. */
  stalledAfterMinutes: 'FROSTLINE_STALLED_AFTER_MINUTES',
} as const;

/** CloudWatch metric of stalled sessions (Powertools EMF: namespace + `service` dimension). */
export const SweeperMetric = {
  namespace: 'Frostline',
  service: 'frostline-sweeper',
  stalledSessions: 'StalledSessions',
} as const;

export interface SweeperConfig {
  readonly tableName: string;
  readonly stalledAfterMs: number;
}

const Schema = z.strictObject({
  tableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'expected a DynamoDB table name'),
  stalledAfterMinutes: z.coerce.number().int().min(1).max(24 * 60),
});

/** Reads the sweeper's variables; every problem in one ConfigError. */
export function loadSweeperConfig(env: Readonly<Record<string, string | undefined>> = process.env): SweeperConfig {
  const result = Schema.safeParse({ tableName: env[SweeperEnv.tableName], stalledAfterMinutes: env[SweeperEnv.stalledAfterMinutes] });
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const field = issue.path[0];
      const name = field === 'tableName' ? SweeperEnv.tableName : SweeperEnv.stalledAfterMinutes;
      return `${name}: ${issue.message}`;
    });
    throw new ConfigError(`invalid sweeper configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return { tableName: result.data.tableName, stalledAfterMs: result.data.stalledAfterMinutes * 60_000 };
}
