/** Counts of one fuzz run, per target (node and message type) and per kind of input, printed as tables. */
import type { StepResult } from './runner.js';

interface Row {
  inputs: number;
  processed: number;
  unexpected: number;
  ms: number;
  refused: Map<string, number>;
}

export class FuzzSummary {
  readonly #byTarget = new Map<string, Row>();
  readonly #byKind = new Map<string, Row>();
  readonly #processedMutations = new Map<string, number>();
  inputs = 0;

  /** A mutated input that was processed (not refused): listed, so a reader can judge each. */
  processedMutation(label: string): void {
    this.#processedMutations.set(label, (this.#processedMutations.get(label) ?? 0) + 1);
  }

  add(target: string, kind: string, result: StepResult, violations: number, ms: number): void {
    this.inputs += 1;
    for (const [map, key] of [[this.#byTarget, target], [this.#byKind, kind]] as const) {
      let row = map.get(key);
      if (row === undefined) {
        row = { inputs: 0, processed: 0, unexpected: 0, ms: 0, refused: new Map() };
        map.set(key, row);
      }
      row.inputs += 1;
      row.ms += ms;
      if (result.kind === 'processed') row.processed += 1;
      if (result.kind === 'refused') row.refused.set(result.code, (row.refused.get(result.code) ?? 0) + 1);
      if (result.kind === 'threw' || violations > 0) row.unexpected += 1;
    }
  }

  get unexpected(): number {
    return [...this.#byTarget.values()].reduce((sum, row) => sum + row.unexpected, 0);
  }

  /** Two tables (per target, per kind of input): inputs, processed, unexpected, mean time, refusals by code. */
  render(): string {
    const table = (title: string, map: Map<string, Row>) => {
      const lines = [`${title.padEnd(28)} ${'inputs'.padStart(7)} ${'processed'.padStart(9)} ${'unexpected'.padStart(10)} ${'ms/input'.padStart(8)}  refused by code`];
      for (const [key, row] of [...map].sort(([a], [b]) => a.localeCompare(b))) {
        const codes = [...row.refused].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code}=${n}`).join(' ');
        lines.push(`${key.padEnd(28)} ${String(row.inputs).padStart(7)} ${String(row.processed).padStart(9)} ${String(row.unexpected).padStart(10)} ${(row.ms / row.inputs).toFixed(1).padStart(8)}  ${codes}`);
      }
      return lines.join('\n');
    };
    const processed = [...this.#processedMutations].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([label, n]) => `${String(n).padStart(7)}  ${label}`);
    return `${table('target (node: message)', this.#byTarget)}\n\n${table('kind of input', this.#byKind)}\n\nprocessed field mutations (top 25):\n${processed.join('\n')}`;
  }
}
