/**
 * Human progress on stderr (so stdout stays machine-readable with --json), results on stdout.
 * With --json a command prints exactly one object: `{ ok, requestId?, ...fields }` (failures,
 * printed by the entry point: `{ ok: false, code, message, requestId? }`, see failure.ts).
 */

export interface Output {
  step(text: string): void;
  result(human: string, json: Record<string, unknown>): void;
}

export function createOutput(json: boolean): Output {
  return {
    step(text) {
      process.stderr.write(`${text}\n`);
    },
    result(human, value) {
      process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human}\n`);
    },
  };
}

/** Runs `work` and returns its result with the elapsed milliseconds. */
export async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, Math.round(performance.now() - started)];
}

export interface Progress {
  /** Ends the ticker; on a terminal, replaces it with how it ended. */
  stop(outcome: string): void;
}

/** Where a ticker writes: process.stderr, or a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

/**
 * Shows that the CLI is waiting: on a terminal, `label … 3s` rewritten in place every
 * second; elsewhere (CI logs, pipes) a single line, since a ticker there is only noise.
 */
export function startProgress(label: string, stream: ProgressStream = process.stderr): Progress {
  const started = performance.now();
  const seconds = () => Math.floor((performance.now() - started) / 1000);
  if (stream.isTTY !== true) {
    stream.write(`${label} …\n`);
    return { stop() {} };
  }
  const render = () => stream.write(`\r\x1b[2K${label} … ${seconds()}s`);
  render();
  const timer = setInterval(render, 1000);
  // The ticker alone must never keep the process alive.
  timer.unref();
  let stopped = false;
  return {
    stop(outcome) {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stream.write(`\r\x1b[2K${label} … ${outcome} after ${((performance.now() - started) / 1000).toFixed(1)}s\n`);
    },
  };
}

/** One key's public data, as `frostline key` prints it (local cluster or deployment); the epoch once a refresh or reshare moved it past 0. */
export function printKey(out: Output, key: { keyId: string; publicKey: string; threshold: number; parties: readonly string[]; epoch?: number | undefined }): void {
  const epoch = key.epoch ?? 0;
  out.result(`key        ${key.keyId}\npublic key ${key.publicKey}\nthreshold  ${key.threshold}-of-${key.parties.length} (${key.parties.join(', ')})${epoch > 0 ? `\nepoch      ${epoch}` : ''}`, {
    ok: true,
    keyId: key.keyId,
    publicKey: key.publicKey,
    threshold: key.threshold,
    parties: key.parties,
    ...(epoch > 0 ? { epoch } : {}),
  });
}
