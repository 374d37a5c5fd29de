/**
 * Stored state that cannot be what this code wrote: an item that does not parse, or two
 * items written in one transaction that disagree. Not a refusal (the message is fine and
 * the fault is ours or the table's), so it is thrown, like an infrastructure error: the
 * message is redelivered and ends in the dead-letter queue, where it raises an alarm.
 */
import { FrostlineError } from '../ports/errors.js';

export class CorruptStateError extends FrostlineError {
  override readonly name = 'CorruptStateError';
  constructor(message: string) {
    super('corrupt-state', message);
  }
}
