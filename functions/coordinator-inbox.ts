/**
 * Lambda entry point: the coordinator's inbox queue, where parties answer (SQS event source
 * with ReportBatchItemFailures). Built once, at cold start.
 */
import { coordinatorInboxHandlerFromEnvironment } from '../lib/lambda/handlers.js';

export const handler = coordinatorInboxHandlerFromEnvironment();
