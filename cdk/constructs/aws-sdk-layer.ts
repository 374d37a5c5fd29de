/**
 * The AWS SDK as a Lambda layer, one per stack, shared by the stack's functions: the SDK
 * clients the handlers use, bundled by the local esbuild from the installed node_modules
 * (so at package-lock.json's versions) into `/opt/nodejs/node_modules/@frostline/aws-sdk`.
 * The handler bundles import it under that name (cdk/handler-bundling.ts explains why the
 * SDK is not in them). The asset is hashed on the built output: a new SDK version in the
 * lock file is a new layer version, and an unchanged one deploys nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssetHashType, DockerImage, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildSync } from 'esbuild';
import type { Construct } from 'constructs';
import { AWS_SDK_LAYER_DIR, awsSdkLayerEsbuildOptions, awsSdkLayerPackageJson } from '../handler-bundling.js';
import { PROJECT_ROOT } from '../paths.js';

const LAYER_ID = 'AwsSdkLayer';

/** Builds the layer's content into `layerRoot` (the directory zipped as the layer). */
export function buildAwsSdkLayerSync(layerRoot: string): void {
  const packageDir = join(layerRoot, AWS_SDK_LAYER_DIR);
  buildSync(awsSdkLayerEsbuildOptions(packageDir));
  writeFileSync(join(packageDir, 'package.json'), awsSdkLayerPackageJson());
}

/** The stack's AWS SDK layer, created on first use. */
export function awsSdkLayer(scope: Construct, runtime: lambda.Runtime, architecture: lambda.Architecture): lambda.ILayerVersion {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(LAYER_ID);
  if (existing instanceof lambda.LayerVersion) return existing;
  return new lambda.LayerVersion(stack, LAYER_ID, {
    description: 'frostline: the AWS SDK clients at the versions of package-lock.json, bundled (@frostline/aws-sdk)',
    compatibleRuntimes: [runtime],
    compatibleArchitectures: [architecture],
    code: lambda.Code.fromAsset(join(PROJECT_ROOT, 'functions'), {
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Never used: the local build below always succeeds or throws (as the handlers, no Docker).
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'),
        local: {
          tryBundle(outputDir: string): boolean {
            buildAwsSdkLayerSync(outputDir);
            return true;
          },
        },
      },
    }),
  });
}
