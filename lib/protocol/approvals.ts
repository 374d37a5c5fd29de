/**
 * Approval quorums: for keys whose policy demands it, m of k named approvers must each sign
 * the request. Approvals travel inside the initiator's request (so the initiator's own
 * signature covers them too), and every party counts them itself.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { KeyVault } from '../ports/key-vault.js';
import { RefusalCode, RefusedError } from '../ports/errors.js';
import type { Directory } from './directory.js';
import { bytesToHex, canonicalBytes, concatBytes, decodeHex, utf8ToBytes } from './encoding.js';
import { verifyIdentitySignature } from './identity.js';

const APPROVAL_DOMAIN = utf8ToBytes('frostline/approval/v1\u0000');

/** What an approver vouches for: exactly this message, under this key, for this request. */
export interface ApprovedRequest {
  readonly initiator: string;
  readonly requestId: string;
  readonly keyId: string;
  /** Hex of the bytes to sign. */
  readonly message: string;
  /** The derivation path, for a request that signs under a child key: approvers approve it too. */
  readonly path?: string | undefined;
  /** The taproot option (secp256k1-tr): it chooses the output key, so approvers approve it too. */
  readonly taproot?: { readonly merkleRoot?: string | undefined } | undefined;
}

export interface Approval {
  readonly approver: string;
  readonly sig: string;
}

export interface ApprovalRule {
  /** How many distinct approvers must sign (m). */
  readonly quorum: number;
  /** Who may approve (the k names); their keys are pinned in the directory. */
  readonly approvers: readonly string[];
}

export function approvalSigningInput(request: ApprovedRequest): Uint8Array {
  const { initiator, requestId, keyId, message, path, taproot } = request;
  // Without a path or taproot option the input is what it always was, so existing approvals stay valid.
  const taprootField = taproot === undefined ? {} : { taproot: taproot.merkleRoot === undefined ? {} : { merkleRoot: taproot.merkleRoot } };
  return concatBytes(APPROVAL_DOMAIN, sha256(canonicalBytes({ initiator, requestId, keyId, message, ...(path === undefined ? {} : { path }), ...taprootField })));
}

const LIFECYCLE_APPROVAL_DOMAIN = utf8ToBytes('frostline/lifecycle-approval/v1\u0000');

/** What an approver of a refresh or reshare vouches for: this operation on this key, to exactly this party set. */
export interface ApprovedLifecycle {
  readonly initiator: string;
  readonly requestId: string;
  readonly keyId: string;
  readonly operation: 'refresh' | 'reshare';
  /** The epoch the change was planned against, as the request carries it. */
  readonly epoch?: number | undefined;
  /** Reshare only: the new threshold, party set and dealers (absent: every current party), as requested. */
  readonly threshold?: number | undefined;
  readonly parties?: readonly string[] | undefined;
  readonly dealers?: readonly string[] | undefined;
}

/** Its own domain string: a signing approval can never count as a lifecycle approval, nor the other way round. */
export function lifecycleApprovalInput(request: ApprovedLifecycle): Uint8Array {
  const { initiator, requestId, keyId, epoch, operation, threshold, parties, dealers } = request;
  const fields = {
    initiator,
    requestId,
    keyId,
    operation,
    ...(epoch === undefined ? {} : { epoch }),
    ...(threshold === undefined ? {} : { threshold }),
    // Sets, not lists: an approver who lists the parties in another order approves the same change.
    ...(parties === undefined ? {} : { parties: [...parties].sort() }),
    ...(dealers === undefined ? {} : { dealers: [...dealers].sort() }),
  };
  return concatBytes(LIFECYCLE_APPROVAL_DOMAIN, sha256(canonicalBytes(fields)));
}

/** Signs a lifecycle approval with any identity signer. */
export async function signLifecycleApproval(signer: Pick<KeyVault, 'signIdentity'>, approver: string, request: ApprovedLifecycle): Promise<Approval> {
  return { approver, sig: bytesToHex(await signer.signIdentity(lifecycleApprovalInput(request))) };
}

/** Signs an approval with any identity signer: a vault, a `LocalKeySigner` or a `KmsSigner`. */
export async function signApproval(signer: Pick<KeyVault, 'signIdentity'>, approver: string, request: ApprovedRequest): Promise<Approval> {
  return { approver, sig: bytesToHex(await signer.signIdentity(approvalSigningInput(request))) };
}

/** Refuses unless at least `rule.quorum` distinct listed approvers signed this exact request. */
export function assertApprovalQuorum(
  rule: ApprovalRule,
  request: ApprovedRequest,
  approvals: readonly Approval[],
  directory: Directory,
): void {
  assertQuorumOver(rule, approvalSigningInput(request), approvals, directory);
}

/** Refuses unless at least `rule.quorum` distinct listed approvers signed this exact refresh or reshare. */
export function assertLifecycleQuorum(rule: ApprovalRule, request: ApprovedLifecycle, approvals: readonly Approval[], directory: Directory): void {
  assertQuorumOver(rule, lifecycleApprovalInput(request), approvals, directory);
}

function assertQuorumOver(rule: ApprovalRule, input: Uint8Array, approvals: readonly Approval[], directory: Directory): void {
  const valid = new Set<string>();
  const rejected: string[] = [];
  for (const approval of approvals) {
    const key = directory.approvers !== undefined && Object.hasOwn(directory.approvers, approval.approver) ? directory.approvers[approval.approver] : undefined;
    const listed = rule.approvers.includes(approval.approver);
    if (key !== undefined && listed && verifyIdentitySignature(key, input, decodeHex(approval.sig, 'approval.sig'))) {
      valid.add(approval.approver);
    } else {
      rejected.push(approval.approver);
    }
  }
  if (valid.size < rule.quorum) {
    const detail = rejected.length > 0 ? `; not valid: ${rejected.map((a) => `"${a}"`).join(', ')}` : '';
    throw new RefusedError(RefusalCode.policy, `approval quorum not met: ${valid.size} of ${rule.quorum} valid approvals${detail}`);
  }
}
