/** The port an initiator's results arrive through (lib/ports), re-exported where the SDK's users look for it. */
export type { ReceivedMessage, ResultInbox } from '../ports/result-inbox.js';
