export declare const STAMP: string;
export declare const INPUTS: readonly string[];
export declare function staleInput(root: string, stampPath?: string, inputs?: readonly string[]): string | undefined;
export declare function writeStamp(root: string, startedMs: number, stampPath?: string): void;
