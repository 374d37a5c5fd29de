/**
 * The three SQS handlers, as factories: tests build them around processors wired to the
 * emulator; the entry points in functions/*.ts build them from the environment.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { RefusalCode, RefusedError } from '../ports/errors.js';
import { INITIATOR_REQUEST_TYPES } from '../protocol/messages.js';
import type { EnvelopePeek } from './envelope-peek.js';
import { createInboxHandler, type InboxProcessor, type SqsInboxHandler } from './inbox-handler.js';
import { createObservability, protocolLogger } from './observability.js';
import {
  clientsFor,
  coordinatorConfigFromEnvironment,
  createCoordinator,
  createParty,
  partyConfigFromEnvironment,
} from './wiring.js';
import { ServiceName } from './observability.js';

// One list of service names (lib/config), which the stacks' alarms also use.
export { ServiceName } from './observability.js';

export interface HandlerDeps {
  readonly processor: InboxProcessor;
  /** @default a Powertools Logger for the function's service */
  readonly logger?: Logger;
  /** @default Powertools Metrics in the `Frostline` namespace */
  readonly metrics?: Metrics;
}

function observed(service: string, deps: HandlerDeps) {
  const { logger, metrics } = deps;
  if (logger !== undefined && metrics !== undefined) return { processor: deps.processor, logger, metrics };
  const defaults = createObservability(service);
  return { processor: deps.processor, logger: logger ?? defaults.logger, metrics: metrics ?? defaults.metrics };
}

/** A party's inbox: messages from the coordinator, handled by `Party`. */
export function createPartyInboxHandler(deps: HandlerDeps): SqsInboxHandler {
  return createInboxHandler(observed(ServiceName.partyInbox, deps));
}

/** The coordinator's inbox: parties' messages (and requests, if intake shares the queue). */
export function createCoordinatorInboxHandler(deps: HandlerDeps): SqsInboxHandler {
  return createInboxHandler(observed(ServiceName.coordinatorInbox, deps));
}

/**
 * Intake admits initiator requests only. Its queue is the one applications may write to, so
 * anything else arriving there is refused before the coordinator looks at it: party
 * messages have their own queue, writable by the party accounts only.
 */
export function admitRequestsOnly(peek: EnvelopePeek): RefusedError | undefined {
  if (peek.type === undefined) return new RefusedError(RefusalCode.malformed, 'not an envelope of a known type');
  if (!INITIATOR_REQUEST_TYPES.has(peek.type)) return new RefusedError(RefusalCode.wrongRound, `request intake does not accept ${peek.type}`);
  return undefined;
}

/** The request queue: `keygen.request`, `sign.request` and `key.request` from initiators, handled by `Coordinator`. */
export function createRequestIntakeHandler(deps: HandlerDeps): SqsInboxHandler {
  return createInboxHandler({ ...observed(ServiceName.requestIntake, deps), admit: admitRequestsOnly });
}

// ---- from the environment (the Lambda entry points) -----------------------------------

export function partyInboxHandlerFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): SqsInboxHandler {
  const config = partyConfigFromEnvironment(env);
  const { logger, metrics } = createObservability(ServiceName.partyInbox);
  logger.appendPersistentKeys({ party: config.partyId });
  const party = createParty(config, { clients: clientsFor(config), logger: protocolLogger(logger) });
  return createPartyInboxHandler({ processor: party, logger, metrics });
}

export function coordinatorInboxHandlerFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): SqsInboxHandler {
  const config = coordinatorConfigFromEnvironment(env);
  const { logger, metrics } = createObservability(ServiceName.coordinatorInbox);
  const coordinator = createCoordinator(config, { clients: clientsFor(config), logger: protocolLogger(logger) });
  return createCoordinatorInboxHandler({ processor: coordinator, logger, metrics });
}

export function requestIntakeHandlerFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): SqsInboxHandler {
  const config = coordinatorConfigFromEnvironment(env);
  const { logger, metrics } = createObservability(ServiceName.requestIntake);
  const coordinator = createCoordinator(config, { clients: clientsFor(config), logger: protocolLogger(logger) });
  return createRequestIntakeHandler({ processor: coordinator, logger, metrics });
}
