/** Types for scripts/emulator.mjs (plain Node ESM so it runs without a build). */
export declare const MOTO_REQUIREMENT: string;

export interface Emulator {
  /** e.g. `http://127.0.0.1:40123` */
  readonly endpoint: string;
  /** Time spent making sure the venv holds the pinned moto (near 0 when reused). */
  readonly setupMs: number;
  /** Time from spawning moto_server until it answered. */
  readonly startMs: number;
  stop(): Promise<void>;
}

export declare function ensureVenv(): { reused: boolean; ms: number };

export declare function startEmulator(options?: { log?: (line: string) => void }): Promise<Emulator>;
