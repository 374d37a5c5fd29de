/**
 * What a stack says when it is synthesised before every identity key is pinned: it deploys
 * its keys, table and queues, but not the handlers that would trust unpinned keys.
 */
import { Annotations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { type DeploymentConfig, missingPins } from '../lib/config/deployment.js';

/** A synth warning naming whose keys are missing, what is left out, and what to do. */
export function warnUnpinned(scope: Construct, config: DeploymentConfig, leftOut: string): void {
  Annotations.of(scope).addWarningV2(
    'frostline:unpinned',
    `identity keys not pinned yet (${missingPins(config).join(', ')}): ${leftOut} not deployed. ` +
      'Deploy every account, run `frostline config pin`, then deploy again.',
  );
}
