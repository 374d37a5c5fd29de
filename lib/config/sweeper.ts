/**
 * The sweeper's environment: the coordinator's runtime configuration (it runs a Coordinator,
 * which fails stalled sessions and tells their initiators) plus the stall deadline. Shared
 * by `functions/sweeper.ts` and the coordinator stack, which sets the variables.
 */
import * as z from 'zod/mini';
import { ConfigError } from '../ports/errors.js';
import { checkRuntimeConfig, configErrorMessage, type CoordinatorRuntimeConfig, Role, RuntimeEnv } from './runtime.js';

export const SweeperEnv = {
  /** A session still open this many minutes after it started is failed with code `timeout`. */
  stalledAfterMinutes: 'FROSTLINE_STALLED_AFTER_MINUTES',
} as const;

export interface SweeperConfig {
  readonly coordinator: CoordinatorRuntimeConfig;
  readonly stalledAfterMs: number;
}

const StalledAfterMinutes = z.coerce.number().check(z.int(), z.gte(1), z.lte(24 * 60));

/** Reads the sweeper's variables; every problem (runtime contract included) in one ConfigError. */
export function loadSweeperConfig(env: Readonly<Record<string, string | undefined>> = process.env): SweeperConfig {
  const runtime = checkRuntimeConfig(env);
  const problems = [...runtime.problems];
  if (runtime.config !== undefined && runtime.config.role !== Role.coordinator) {
    problems.push(`${RuntimeEnv.role}: the sweeper runs the coordinator; expected ${Role.coordinator}, got ${runtime.config.role}`);
  }
  const raw = env[SweeperEnv.stalledAfterMinutes];
  const minutes = StalledAfterMinutes.safeParse(raw === '' ? undefined : raw);
  if (!minutes.success) {
    problems.push(`${SweeperEnv.stalledAfterMinutes}: ${raw === undefined || raw === '' ? 'is required' : 'expected whole minutes from 1 to 1440'}`);
  }
  if (problems.length > 0 || runtime.config?.role !== Role.coordinator || !minutes.success) {
    throw new ConfigError(configErrorMessage('sweeper', problems));
  }
  return { coordinator: runtime.config, stalledAfterMs: minutes.data * 60_000 };
}
