/**
 * The CDK entry point (cdk.json runs the compiled form, dist/cdk/app.js).
 *
 *   npx cdk synth                                  every stack
 *   npx cdk deploy -c party=p2 --profile p2-admin  only party p2's stack, in p2's account
 *   npx cdk deploy -c coordinator=true             only the coordinator's stack
 *   -c config=deploy/prod.config.json              another config (default: cdk.json's)
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { parseDeploymentConfigText } from '../lib/config/deployment.js';
import { buildApp, selectionFromContext } from './app-builder.js';
import { PROJECT_ROOT } from './paths.js';

const app = new App();
const configPath = String(app.node.tryGetContext('config') ?? 'deploy/example.config.json');
const path = isAbsolute(configPath) ? configPath : join(PROJECT_ROOT, configPath);
const config = parseDeploymentConfigText(readFileSync(path, 'utf8'), configPath);
buildApp({
  app,
  config,
  selection: selectionFromContext({ party: app.node.tryGetContext('party'), coordinator: app.node.tryGetContext('coordinator') }),
});
app.synth();
