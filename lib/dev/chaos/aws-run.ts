/** Chaos on the AWS adapters against the emulator: filled in below. */
import type { ChaosOptions } from './local-run.js';
import type { ChaosReport } from './report.js';

export async function runAwsChaos(_options: ChaosOptions): Promise<ChaosReport> {
  throw new Error('not implemented yet');
}

export async function runAwsLoad(_options: import('./load-run.js').LoadOptions): Promise<import('./load-run.js').LoadRow[]> {
  throw new Error('not implemented yet');
}
