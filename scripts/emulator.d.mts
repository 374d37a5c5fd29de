/** Types for scripts/emulator.mjs (plain Node ESM so it runs without a build). */
export declare const MOTO_REQUIREMENT: string;
export declare const MINISTACK_REQUIREMENTS: readonly string[];

export interface Emulator {
  /** e.g. `http://127.0.0.1:40123` */
  readonly endpoint: string;
  /** Time spent making sure the venv holds the pinned emulator (near 0 when reused). */
  readonly setupMs: number;
  /** Time from spawning the emulator until it answered. */
  readonly startMs: number;
  stop(): Promise<void>;
}

export interface Ministack extends Emulator {
  /** The last 8,000 characters ministack printed (its Lambda functions' logs among them). */
  output(): string;
}

export declare function ensureVenv(): { reused: boolean; ms: number };
export declare function ensureMinistackVenv(): { reused: boolean; ms: number };

export declare function startEmulator(options?: { log?: (line: string) => void }): Promise<Emulator>;
export declare function startMinistack(options?: { log?: (line: string) => void }): Promise<Ministack>;
