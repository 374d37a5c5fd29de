/**
 * Lambda entry point: a party's inbox queue (SQS event source with ReportBatchItemFailures).
 * Configuration, clients and the Party are built once, at cold start; a bad configuration
 * fails the cold start with every problem listed.
 */
import { partyInboxHandlerFromEnvironment } from '../lib/lambda/handlers.js';

export const handler = partyInboxHandlerFromEnvironment();
