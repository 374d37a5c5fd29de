/**
 * What `frostline dev up` checks before it starts anything, and the first commands it
 * suggests. Pure functions of the options and the policy, so that a policy that cannot
 * work is refused in a second, not after the emulator has started, and the suggested
 * commands are ones this policy allows (a fixed `keygen --key-id demo` is refused by a
 * policy that grants keygen to nobody or `demo` to nobody).
 */
import { ConfigError } from '../ports/errors.js';
import { type PartyPolicy, keyRules } from '../protocol/requests.js';

export interface DevInputs {
  readonly initiators: readonly string[];
  readonly approvers: readonly string[];
  readonly policy?: PartyPolicy;
}

/**
 * Refuses a policy that names an initiator or an approver the deployment will not have:
 * a typo there leaves a grant nobody can use or an approval quorum nobody can meet.
 */
export function checkPolicyAgainstDeployment(inputs: DevInputs, policyFile: string): void {
  const { policy } = inputs;
  if (policy === undefined) return;
  const problems: string[] = [];
  const unknownInitiators = Object.keys(policy.initiators).filter((id) => !inputs.initiators.includes(id));
  if (unknownInitiators.length > 0) {
    problems.push(`it grants ${list(unknownInitiators)}, not among --initiators ${inputs.initiators.join(',')}`);
  }
  for (const [keyId, rules] of Object.entries(policy.keys ?? {})) {
    const unknownApprovers = (rules.approvals?.approvers ?? []).filter((id) => !inputs.approvers.includes(id));
    if (unknownApprovers.length > 0) {
      const given = inputs.approvers.length > 0 ? `--approvers ${inputs.approvers.join(',')}` : 'no --approvers';
      problems.push(`key "${keyId}" needs approvals from ${list(unknownApprovers)}, not among ${given}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`the policy file ${policyFile} does not fit this deployment: ${problems.join('; ')}`);
}

function list(ids: readonly string[]): string {
  return ids.map((id) => `"${id}"`).join(', ');
}

/** A keygen and a sign command this deployment's policy allows, or why there is none. */
export function firstCommands(inputs: DevInputs & { readonly file: string }): string {
  const policy = inputs.policy;
  const defaultInitiator = inputs.initiators[0] ?? '';
  const may = (id: string) => (policy === undefined ? { keygen: true, keys: ['*'] } : Object.hasOwn(policy.initiators, id) ? policy.initiators[id] : undefined);
  const creator = inputs.initiators.find((id) => may(id)?.keygen === true);
  if (creator === undefined) return 'the policy lets no initiator create keys ("keygen": true), so keygen will be refused';
  // The first key id some initiator may sign with: one it names, else "demo" under "*".
  const signing = inputs.initiators.flatMap((id) => {
    const keys = may(id)?.keys ?? [];
    const named = keys.filter((key) => key !== '*');
    return [...named, ...(keys.includes('*') ? ['demo'] : [])].map((keyId) => ({ id, keyId }));
  })[0];
  const as = (id: string) => (id === defaultInitiator ? '' : ` --initiator ${id}`);
  const keyId = signing?.keyId ?? 'demo';
  const keygen = `frostline keygen --deployment ${inputs.file}${as(creator)} --key-id ${keyId}`;
  if (signing === undefined) return `try  ${keygen}  (the policy lets no initiator sign)`;
  const approvals = policy !== undefined ? keyRules(policy, keyId).approvals : undefined;
  const approvers = approvals !== undefined ? ` --approvers ${approvals.approvers.slice(0, approvals.quorum).join(',')}` : '';
  return `try  ${keygen}  and  frostline sign --deployment ${inputs.file}${as(signing.id)} --key ${keyId} --message hi${approvers}`;
}
