/**
 * Lambda entry point: the request queue that initiators write to. Admits `keygen.request`,
 * `sign.request` and `key.request` only, then hands them to the same Coordinator as the inbox.
 */
import { requestIntakeHandlerFromEnvironment } from '../lib/lambda/handlers.js';

export const handler = requestIntakeHandlerFromEnvironment();
