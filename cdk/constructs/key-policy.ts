/**
 * Key policies without `kms:*`. The account (and so CloudFormation and the account's
 * administrators, through IAM) may manage a key — describe, tag, rotate, change its policy,
 * schedule its deletion — but not use it: encrypt, decrypt, sign and create grants are
 * given to named roles only, by statements the stacks add. Using a key outside those roles
 * needs a visible key-policy change first (CloudTrail `PutKeyPolicy`).
 */
import * as iam from 'aws-cdk-lib/aws-iam';

/** Management actions only; deliberately no Encrypt, Decrypt, GenerateDataKey, Sign, CreateGrant or ReEncrypt. */
export const KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RevokeGrant',
  'kms:RetireGrant',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
] as const;

/** A key policy that starts with the management statement for the key's own account. */
export function managedKeyPolicy(): iam.PolicyDocument {
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'AccountManagesKeyButCannotUseIt',
        principals: [new iam.AccountRootPrincipal()],
        actions: [...KEY_ADMIN_ACTIONS],
        // In a key policy, "*" is the key itself.
        resources: ['*'],
      }),
    ],
  });
}
