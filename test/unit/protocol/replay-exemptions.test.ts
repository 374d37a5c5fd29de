import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../../lib/protocol/directory.js';
import { MessageType } from '../../../lib/protocol/messages.js';
import { coordinatorMarksProcessed, coordinatorMarksReplays, partyMarksProcessed } from '../../../lib/protocol/replay-exemptions.js';
import { replayWindowSeconds } from '../../../lib/protocol/replay-guard.js';

describe('which steps keep a replay mark', () => {
  it('a party marks everything but sign.pooled; the coordinator everything but sign.share', () => {
    expect(partyMarksProcessed(MessageType.signPooled)).toBe(false);
    for (const type of [MessageType.signCommit, MessageType.signPackage, MessageType.poolRefill, MessageType.dkgStart]) expect(partyMarksProcessed(type)).toBe(true);
    expect(coordinatorMarksReplays(MessageType.signShare)).toBe(false);
    for (const type of [MessageType.signRequest, MessageType.signCommitment, MessageType.poolBatch, MessageType.keygenRequest]) expect(coordinatorMarksReplays(type)).toBe(true);
  });

  it('a processed sign.request is left unmarked only while its session outlives the replay window', () => {
    expect(coordinatorMarksProcessed(MessageType.signRequest, DEFAULT_LIMITS)).toBe(false);
    const window = replayWindowSeconds(DEFAULT_LIMITS);
    expect(coordinatorMarksProcessed(MessageType.signRequest, { ...DEFAULT_LIMITS, sessionTtlSeconds: window })).toBe(false);
    expect(coordinatorMarksProcessed(MessageType.signRequest, { ...DEFAULT_LIMITS, sessionTtlSeconds: window - 1 })).toBe(true);
    // Other requests and party messages as their replay marks say.
    expect(coordinatorMarksProcessed(MessageType.keygenRequest, DEFAULT_LIMITS)).toBe(true);
    expect(coordinatorMarksProcessed(MessageType.signCommitment, DEFAULT_LIMITS)).toBe(true);
    expect(coordinatorMarksProcessed(MessageType.signShare, DEFAULT_LIMITS)).toBe(false);
  });
});
