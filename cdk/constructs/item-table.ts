/**
 * The one-table layout of lib/adapters/aws/dynamodb-backend.ts: pk (S) · sk (S), TTL on
 * `expiresAt`. On demand, point-in-time recovery, deletion protection, retained when the
 * stack goes: a party's table holds its (envelope-encrypted) key shares.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The TTL attribute the backend writes (epoch seconds). */
export const TTL_ATTRIBUTE = 'expiresAt';

/** What the backend calls: single items, batch reads (`getMany`), transactions of puts/deletes, prefix scans. */
export const ITEM_ACCESS_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:Query',
  'dynamodb:Scan',
] as const;

export interface ItemTableProps {
  readonly tableName: string;
}

export class ItemTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ItemTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true, recoveryPeriodInDays: 35 },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: true,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** The item operations of the store backend, on this table only. */
  grantItemAccess(grantee: iam.IGrantable): void {
    this.table.grant(grantee, ...ITEM_ACCESS_ACTIONS);
  }
}
