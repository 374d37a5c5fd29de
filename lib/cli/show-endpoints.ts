/**
 * `frostline config show-endpoints`: the queue URLs an initiator application needs — where
 * it sends requests and where it reads its results — computed from the deployment config
 * alone (names are deterministic, see lib/config/names.ts), so an application team needs
 * neither the coordinator account's console nor its stack outputs.
 */
import { loadDeploymentConfig } from '../config/deployment.js';
import { coordinatorNames, initiatorNames } from '../config/names.js';
import { FrostlineError } from '../ports/errors.js';
import { createOutput } from './output.js';

export interface InitiatorEndpoints {
  readonly id: string;
  readonly principalArn: string;
  readonly resultQueueUrl: string;
  readonly resultDlqUrl: string;
}

export interface Endpoints {
  readonly region: string;
  readonly account: string;
  readonly requestQueueUrl: string;
  readonly initiators: readonly InitiatorEndpoints[];
}

export async function deploymentEndpoints(configPath: string, initiatorId?: string): Promise<Endpoints> {
  const config = await loadDeploymentConfig(configPath);
  const initiators = config.initiators.filter((initiator) => initiatorId === undefined || initiator.id === initiatorId);
  if (initiators.length === 0) {
    throw new FrostlineError('usage', `no initiator "${initiatorId ?? ''}" in ${configPath} (it has ${config.initiators.map((i) => i.id).join(', ')})`);
  }
  return {
    region: config.coordinator.region,
    account: config.coordinator.account,
    requestQueueUrl: coordinatorNames(config).requests.url,
    initiators: initiators.map((initiator) => {
      const names = initiatorNames(config, initiator);
      return { id: initiator.id, principalArn: initiator.principalArn, resultQueueUrl: names.results.url, resultDlqUrl: names.resultsDlq.url };
    }),
  };
}

export async function runShowEndpoints(options: { config: string; initiator?: string; json?: boolean }): Promise<void> {
  const endpoints = await deploymentEndpoints(options.config, options.initiator);
  const lines = [`coordinator account ${endpoints.account}, region ${endpoints.region}`, `request queue      ${endpoints.requestQueueUrl}`];
  for (const initiator of endpoints.initiators) {
    lines.push(`results of ${initiator.id.padEnd(8)} ${initiator.resultQueueUrl}`, `  (dead letters)    ${initiator.resultDlqUrl}`, `  (receiver)        ${initiator.principalArn}`);
  }
  createOutput(options.json === true).result(lines.join('\n'), { ok: true, ...endpoints });
}
