/**
 * `frostline/dev`: development only. The embedded cluster (`frostline demo`, local mode:
 * every party, the coordinator and an initiator in one process on local adapters) and the
 * client side of a development deployment on an AWS emulator (`frostline dev up` writes its
 * deployment file). Never needed in production.
 */
export { LocalCluster, type LocalClusterOptions, type Interceptor, type UnhealthyParty } from './cluster.js';
export {
  DevDeploymentConnection,
  openDevDeployment,
  readDevDeploymentFile,
  type DevClientOptions,
  type DevDeploymentFile,
} from './dev-deployment-file.js';
