/** Human progress on stderr (so stdout stays machine-readable with --json), results on stdout. */
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
