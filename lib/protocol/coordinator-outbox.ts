/**
 * What the coordinator sends, as data: each flow's outbox module turns a session into the
 * messages its phase calls for, and coordinator.ts signs and sends them. Nothing here is
 * sent twice by design: parties answer repeats idempotently, initiators by request id.
 */
import type { ResultError } from './messages.js';
import { MessageType, type BodyOf, type Envelope } from './messages.js';
import type { Destination } from '../ports/transport.js';

/** One message to sign and send: its destination, the envelope's session and recipient, and its body. */
export interface Outgoing<T extends MessageType = MessageType> {
  readonly destination: Extract<Destination, { readonly id: string }>;
  readonly session: string;
  readonly type: T;
  readonly body: BodyOf<T>;
}

export function toParty<T extends MessageType>(party: string, session: string, type: T, body: BodyOf<T>): Outgoing<T> {
  return { destination: { kind: 'party', id: party }, session, type, body };
}

/** An answer to the initiator that sent `request`, in the request's session. */
export function toInitiator<T extends MessageType>(request: Envelope, type: T, body: BodyOf<T>): Outgoing<T> {
  return { destination: { kind: 'initiator', id: request.from }, session: request.session, type, body };
}

/**
 * The result for a request refused before any session existed (malformed, unknown key,
 * conflict, ...). The initiator is authenticated, so it is told why.
 */
export function refusedRequestResult(request: Envelope, error: ResultError): Outgoing {
  const { body: requested } = request;
  const field = (name: 'requestId' | 'keyId'): string => {
    const value: unknown = typeof requested === 'object' && requested !== null ? Reflect.get(requested, name) : undefined;
    return typeof value === 'string' ? value : '-';
  };
  const body = { requestId: field('requestId'), keyId: field('keyId'), duplicate: false, error, ok: false };
  if (request.type === MessageType.refreshRequest || request.type === MessageType.reshareRequest) return toInitiator(request, MessageType.reshareResult, body);
  return request.type === MessageType.keygenRequest
    ? toInitiator(request, MessageType.keygenResult, body)
    : toInitiator(request, MessageType.signResult, body);
}
