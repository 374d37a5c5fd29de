/**
 * The two KMS keys of a frostline principal:
 * - `SharesKey`: symmetric, wraps the data keys that seal shares, nonces and DKG state;
 *   usable only by one role and only under an encryption context naming this party.
 * - `IdentityKey`: asymmetric SIGN_VERIFY, signs every envelope; `kms:Sign` for named roles
 *   only, `kms:GetPublicKey` for the peer accounts (so each can check the pinned keys).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { IdentityAlgorithm } from '../../lib/ports/key-vault.js';
import { managedKeyPolicy } from './key-policy.js';

/** The `service` value every frostline encryption context carries (lib/protocol/sealed-item.ts). */
export const ENCRYPTION_CONTEXT_SERVICE = 'frostline';
/** The context keys frostline uses; a request with any other key is refused by the key policy. */
export const ENCRYPTION_CONTEXT_KEYS = ['service', 'party', 'keyId', 'purpose'] as const;

export interface SharesKeyProps {
  /** The alias, e.g. `alias/frostline/p1/shares`. */
  readonly alias: string;
  /** The party whose context the key accepts (`kms:EncryptionContext:party`). */
  readonly party: string;
  /** The only role that may generate and decrypt data keys. */
  readonly user: iam.IRole;
}

export class SharesKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: SharesKeyProps) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: `frostline: wraps the data keys of party ${props.party}'s shares, nonces and DKG state`,
      alias: props.alias,
      enableKeyRotation: true,
      // Losing this key loses every share it wraps: never deleted with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
      policy: managedKeyPolicy(),
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'HandlerWrapsDataKeysForThisPartyOnly',
        principals: [new iam.ArnPrincipal(props.user.roleArn)],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:EncryptionContext:service': ENCRYPTION_CONTEXT_SERVICE,
            'kms:EncryptionContext:party': props.party,
          },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [...ENCRYPTION_CONTEXT_KEYS] },
        },
      }),
    );
  }
}

export interface IdentityKeyProps {
  /** The alias every peer pins by, e.g. `alias/frostline/p1/identity`. */
  readonly alias: string;
  readonly algorithm: IdentityAlgorithm;
  /**
   * Bumped to rotate: a new key is created under a new construct id, the alias moves to it
   * and the old key is scheduled for deletion.
   */
  readonly version: number;
  readonly description: string;
  /** Roles that sign envelopes. */
  readonly signers: readonly iam.IRole[];
  /** Accounts (this one included) whose IAM principals may read the public key. */
  readonly readerAccounts: readonly string[];
}

const SPEC = {
  [IdentityAlgorithm.ed25519]: { keySpec: kms.KeySpec.ECC_NIST_EDWARDS25519, signing: 'ED25519_SHA_512' },
  [IdentityAlgorithm.p256]: { keySpec: kms.KeySpec.ECC_NIST_P256, signing: 'ECDSA_SHA_256' },
} as const;

export class IdentityKey extends Construct {
  readonly key: kms.Key;
  readonly alias: kms.Alias;

  constructor(scope: Construct, id: string, props: IdentityKeyProps) {
    super(scope, id);
    const spec = SPEC[props.algorithm];
    // Version 1 keeps the plain id so that a first deployment's key is never replaced.
    this.key = new kms.Key(this, props.version === 1 ? 'Key' : `KeyV${props.version}`, {
      description: props.description,
      keySpec: spec.keySpec,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      // Signatures are verified against pinned public keys, never by this key: an old key
      // can go once peers pinned its successor. 30 days to cancel a mistaken rotation.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(30),
      policy: managedKeyPolicy(),
    });
    // A separate alias resource with a stable id: rotating moves it (UpdateAlias) instead
    // of creating a second alias of the same name, which CloudFormation would refuse.
    this.alias = new kms.Alias(this, 'Alias', { aliasName: props.alias, targetKey: this.key });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'HandlersSignEnvelopes',
        principals: props.signers.map((role) => new iam.ArnPrincipal(role.roleArn)),
        actions: ['kms:Sign'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'kms:SigningAlgorithm': spec.signing, 'kms:MessageType': 'RAW' },
        },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PeersReadPublicKey',
        principals: [...new Set(props.readerAccounts)].sort().map((account) => new iam.AccountPrincipal(account)),
        actions: ['kms:GetPublicKey'],
        resources: ['*'],
      }),
    );
  }
}
