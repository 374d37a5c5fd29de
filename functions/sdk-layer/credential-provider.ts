/**
 * What the AWS SDK layer (functions/sdk-layer/index.ts) bundles in place of
 * `@aws-sdk/credential-provider-node`, the SDK's default credential chain (an esbuild alias
 * in cdk/handler-bundling.ts; nothing imports this module directly).
 *
 * Why: in Lambda the credentials of the function's role are always in the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the chain's first link.
 * Every other link (SSO, shared ini files and profiles, credential_process, web identity,
 * the container and instance metadata endpoints, `aws login`) is never reached there, yet
 * bundling the chain pulls in all of them and the STS, SSO, SSO-OIDC and sign-in clients
 * they use: ~130 KiB of every bundle before this swap.
 *
 * What it gives up, in the deployed functions only: any credential source other than those
 * three variables. A function without them fails its first AWS call with the error below
 * instead of trying the next source. Local development, the CLI and every test that imports
 * source rather than a bundle keep the SDK's full default chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

type EnvInit = Parameters<typeof fromEnv>[0];
type Credentials = Awaited<ReturnType<ReturnType<typeof fromEnv>>>;

/** The one link of the default chain that runs in Lambda: the environment variables. */
export const defaultProvider =
  (init: EnvInit = {}) =>
  async (): Promise<Credentials> => {
    try {
      return await fromEnv(init)();
    } catch (error) {
      throw new Error(
        'no AWS credentials in the environment: frostline Lambda bundles read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN only (see functions/sdk-layer/credential-provider.ts)',
        { cause: error },
      );
    }
  };

// The rest of `@aws-sdk/credential-provider-node`'s exports, with its semantics.
export const credentialsWillNeedRefresh = (credentials: { expiration?: Date } | undefined): boolean => credentials?.expiration !== undefined;
export const credentialsTreatedAsExpired = (credentials: { expiration?: Date } | undefined): boolean =>
  credentials?.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300_000;
