/**
 * A look at an envelope's routing fields, for logging and admission only, before (and
 * independently of) the protocol's full validation. Only values of the exact expected
 * shape are returned, so nothing attacker-chosen beyond a known type name or hex id can
 * reach a log line.
 */
import { MessageType } from '../protocol/messages.js';

export interface EnvelopePeek {
  readonly type?: MessageType;
  readonly session?: string;
  /** The envelope's own id (not the SQS message id). */
  readonly id?: string;
}

const HEX16 = /^[0-9a-f]{32}$/;
const TYPES = new Set<string>(Object.values(MessageType));

/** Bodies larger than this are not parsed just to be logged (the protocol refuses them anyway). */
const MAX_PEEK_CHARS = 300 * 1024;

export function peekEnvelope(body: string): EnvelopePeek {
  if (body.length > MAX_PEEK_CHARS) return {};
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return {};
  }
  if (typeof json !== 'object' || json === null) return {};
  const fields = json as Record<string, unknown>;
  const peek: { type?: MessageType; session?: string; id?: string } = {};
  if (typeof fields.type === 'string' && TYPES.has(fields.type)) peek.type = fields.type as MessageType;
  if (typeof fields.session === 'string' && HEX16.test(fields.session)) peek.session = fields.session;
  if (typeof fields.id === 'string' && HEX16.test(fields.id)) peek.id = fields.id;
  return peek;
}
