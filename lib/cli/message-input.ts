/**
 * The message of `sign` and `verify`: `--message TEXT` (UTF-8), `--message-hex HEX`, or
 * `--message-file PATH` (`-` reads stdin) for bytes that do not fit on a command line.
 * Reading stops at a limit, so a wrong file (or an endless pipe) fails at once and clearly
 * instead of filling memory; and a message over the signing policy's limit is refused
 * before anything is sent.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { MAX_SIGN_MESSAGE_BYTES } from '../client/options-schema.js';
import { FrostlineError } from '../ports/errors.js';
import { decodeHex, utf8ToBytes } from '../protocol/encoding.js';
import { keyRules, type PartyPolicy } from '../protocol/requests.js';
import { ioError } from './failure.js';

export { MAX_SIGN_MESSAGE_BYTES };

/** `verify` checks signatures made elsewhere too; it reads up to this much. */
export const MAX_VERIFY_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface MessageFlags {
  readonly message?: string;
  readonly messageHex?: string;
  readonly messageFile?: string;
}

/** Exactly one of --message, --message-hex and --message-file; `stdin` is read for `--message-file -`. */
export async function readMessage(flags: MessageFlags, maxBytes: number, stdin: Readable = process.stdin): Promise<Uint8Array> {
  const given = [
    ['--message TEXT', flags.message],
    ['--message-hex HEX', flags.messageHex],
    ['--message-file PATH', flags.messageFile],
  ].filter(([, value]) => value !== undefined);
  if (given.length !== 1) {
    throw new FrostlineError('usage', `give exactly one of --message TEXT, --message-hex HEX or --message-file PATH (- for stdin)${given.length > 1 ? `, not ${given.map(([flag]) => flag).join(' and ')}` : ''}`);
  }
  let bytes: Uint8Array;
  if (flags.message !== undefined) bytes = utf8ToBytes(flags.message);
  else if (flags.messageHex !== undefined) bytes = decodeHex(flags.messageHex.toLowerCase(), '--message-hex');
  else bytes = await readAll(flags.messageFile ?? '-', maxBytes, stdin);
  if (bytes.length > maxBytes) throw tooLarge(bytes.length, maxBytes);
  return bytes;
}

function tooLarge(size: number | string, maxBytes: number): FrostlineError {
  return new FrostlineError('message-too-large', `the message is ${size} bytes; at most ${maxBytes} bytes can be sent`);
}

async function readAll(path: string, maxBytes: number, stdin: Readable): Promise<Uint8Array> {
  const source = path === '-' ? stdin : createReadStream(path);
  const what = path === '-' ? 'stdin' : `--message-file ${path}`;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += buffer.length;
      if (size > maxBytes) throw tooLarge(`more than ${maxBytes}`, maxBytes);
      chunks.push(buffer);
    }
  } catch (error) {
    if (error instanceof FrostlineError) throw error;
    throw ioError(`cannot read ${what}`, error);
  } finally {
    if (source !== stdin) source.destroy();
  }
  return new Uint8Array(Buffer.concat(chunks, size));
}

/**
 * The largest message the parties' policies let `keyId` sign (the most lenient party's:
 * a message over it is refused by every party, so it is refused here before sending).
 */
export function policyMessageLimit(policies: readonly PartyPolicy[], keyId: string): number | undefined {
  const limits = policies.map((policy) => keyRules(policy, keyId).maxMessageBytes ?? policy.maxMessageBytes);
  return limits.length === 0 ? undefined : Math.max(...limits);
}

export function assertWithinPolicy(message: Uint8Array, limit: number | undefined, keyId: string, where: string): void {
  if (limit !== undefined && message.length > limit) {
    throw new FrostlineError('message-too-large', `the message is ${message.length} bytes; the policy of ${where} lets key "${keyId}" sign at most ${limit} bytes`);
  }
}
