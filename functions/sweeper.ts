/**
 * Lambda entry point: the coordinator's scheduled sweeper (EventBridge rule, every few
 * minutes). It times out sessions stalled past the deadline through the Coordinator — the
 * session fails and its initiator gets a `timeout` result — and publishes how many as the
 * `StalledSessions` metric. Built once, at cold start; see lib/lambda/sweeper.ts.
 */
import { sweeperFromEnvironment } from '../lib/lambda/sweeper.js';

export const handler = sweeperFromEnvironment();
