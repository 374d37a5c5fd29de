/**
 * Child process of test/e2e/worker-threads.test.ts (bundled by esbuild): a worker-thread
 * cluster makes a 2-of-3 key, signs three messages, closes, and prints what it signed as
 * one JSON line. It never calls process.exit: the process ends only if close() really
 * stopped every worker thread, which is what the test checks.
 * argv: <data dir> <worker entry file URL>
 */
import { LocalCluster } from '../../lib/dev/cluster.js';
import { deriveSessionId } from '../../lib/protocol/envelope.js';

const [dataDir, entry] = process.argv.slice(2);
if (dataDir === undefined || entry === undefined) throw new Error('usage: worker-cluster-child <data dir> <worker entry URL>');
const cluster = await LocalCluster.open({ dataDir, parties: 3, threads: 'workers', workerEntry: new URL(entry) });
try {
  cluster.serve();
  const client = cluster.client('cli', { timeoutMs: 240_000 });
  const key = await client.keygen({ keyId: 'w', threshold: 2, parties: ['p1', 'p2', 'p3'] });
  const messages = ['first', 'second', 'third'].map((text) => `worker threads ${text}`);
  const results = await Promise.all(messages.map((message, i) => client.sign({ keyId: 'w', message: new TextEncoder().encode(message), requestId: `w-${i}` })));
  let coordinatorError = '';
  try {
    void cluster.coordinator;
  } catch (error) {
    coordinatorError = error instanceof Error ? error.message : String(error);
  }
  // The coordinator's own record, read on its thread (what `npm run load` asks about timed-out requests).
  const sessionPhase = (await cluster.getSession(deriveSessionId('cli', 'w-0')))?.phase;
  const signed = results.map((result, i) => ({ message: messages[i], publicKey: result.publicKey, signature: Buffer.from(result.signature).toString('hex') }));
  console.log(JSON.stringify({ threads: cluster.threads, publicKey: key.publicKey, signed, unhealthy: cluster.unhealthy(), coordinatorError, sessionPhase }));
} finally {
  await cluster.close();
}
