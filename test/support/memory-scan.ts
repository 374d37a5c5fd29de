/**
 * Searches another process's memory (Linux /proc/<pid>/maps and /proc/<pid>/mem) for copies
 * of a secret, the way an attacker with a core dump would. The scan runs in the test
 * process, not in the scanned one: reading a region into a buffer in the scanned process
 * would itself put copies of what it finds into that process.
 *
 * What counts: the 32 bytes of the secret as they are stored (little-endian); a match whose
 * 8 preceding bytes are a V8 BigInt header (4 digits, positive) is counted apart as "bigint
 * digits" — on a little-endian 64-bit machine a bigint's digits are exactly the scalar's
 * little-endian bytes, and bigints cannot be wiped from JavaScript. Also reported: partial
 * copies (a 16-byte window of the secret without the rest, e.g. a freed malloc chunk whose
 * first 16 bytes the allocator reused), the big-endian byte order (noble's bytes→bigint
 * conversion reverses a copy) and lower-case hex in both orders (strings on the way).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export type MatchKind = 'raw' | 'bigint' | 'partial' | 'reversed' | 'hex-le' | 'hex-be';

/** A secret to look for, with a label for the report (never the bytes). */
export interface Needle {
  readonly label: string;
  readonly bytes: Uint8Array;
}

export interface Match {
  readonly label: string;
  readonly kind: MatchKind;
  readonly address: bigint;
  /** The /proc/<pid>/maps line of the region holding it. */
  readonly region: string;
  /** Hex of the 32 bytes before the match (object headers; never the secret itself). */
  readonly before: string;
  /** Hex of the 32 bytes after a whole copy. */
  readonly after: string;
}

export interface Region {
  readonly start: bigint;
  readonly end: bigint;
  readonly perms: string;
  readonly line: string;
}

export interface ScanResult {
  readonly matches: readonly Match[];
  readonly regions: number;
  readonly bytesRead: number;
  readonly bytesUnreadable: number;
}

const CHUNK = 8 * 1024 * 1024;
const PAGE = 4096;
/** Bytes re-read before each chunk so a needle (and the header before it) is never cut in two. */
const OVERLAP = 256;

/**
 * The regions worth reading: everything writable, and anonymous read-only memory (V8 write-
 * protects some heap pages). Read-only file mappings (code, constants of the node binary and
 * libraries) cannot have received a secret at run time. vvar/vsyscall cannot be read.
 */
export function scannableRegions(pid: number): Region[] {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  const regions: Region[] = [];
  for (const line of maps.split('\n')) {
    if (line === '') continue;
    const [range = '', perms = '', , , inode = '0', ...rest] = line.split(/\s+/);
    const path = rest.join(' ');
    const [start = '', end = ''] = range.split('-');
    if (!perms.startsWith('r')) continue;
    if (path === '[vvar]' || path === '[vsyscall]' || path === '[vvar_vclock]') continue;
    const writable = perms[1] === 'w';
    const anonymous = inode === '0';
    if (!writable && !anonymous) continue;
    regions.push({ start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), perms, line });
  }
  return regions;
}

interface Target {
  readonly label: string;
  readonly kind: MatchKind;
  readonly bytes: Buffer;
}

function targetsOf({ label, bytes: secret }: Needle): Target[] {
  if (secret.length !== 32) throw new Error(`${label}: the scanner expects 32-byte secrets`);
  const le = Buffer.from(secret);
  const be = Buffer.from(secret).reverse();
  const list: Target[] = [
    { label, kind: 'raw', bytes: le },
    { label, kind: 'reversed', bytes: be },
    { label, kind: 'hex-le', bytes: Buffer.from(le.toString('hex'), 'latin1') },
    { label, kind: 'hex-be', bytes: Buffer.from(be.toString('hex'), 'latin1') },
  ];
  for (let offset = 0; offset + 16 <= secret.length; offset += 8) {
    list.push({ label, kind: 'partial', bytes: le.subarray(offset, offset + 16) });
  }
  return list;
}

/**
 * V8 BigInt layout on x64 without pointer compression (Node 20): map word, then a 32-bit
 * bitfield (sign in bit 0, digit count from bit 1), 32 bits of padding, then 64-bit digits.
 * A 32-byte scalar with a non-zero top digit has 4 digits: bitfield 8, padding 0.
 */
function looksLikeBigIntDigits(chunk: Buffer, offset: number): boolean {
  if (offset < 8) return false;
  const bitfield = chunk.readUInt32LE(offset - 8);
  const padding = chunk.readUInt32LE(offset - 4);
  return bitfield === 4 << 1 && padding === 0;
}

/** Reads [start, end) of the process; pages that cannot be read are skipped and counted. */
function readRange(fd: number, buffer: Buffer, start: bigint, length: number): { read: number; unreadable: number } {
  try {
    const read = readSync(fd, buffer, 0, length, start);
    if (read === length) return { read, unreadable: 0 };
  } catch {
    // fall through to page by page
  }
  let read = 0;
  let unreadable = 0;
  for (let offset = 0; offset < length; offset += PAGE) {
    const size = Math.min(PAGE, length - offset);
    let got = 0;
    try {
      got = readSync(fd, buffer, offset, size, start + BigInt(offset));
    } catch {
      got = 0;
    }
    if (got < size) buffer.fill(0, offset + got, offset + size);
    read += got;
    unreadable += size - got;
  }
  return { read, unreadable };
}

/** Every copy of each secret in process `pid`'s memory, in one pass. Stop the process first (SIGSTOP). */
export function scanProcess(pid: number, secrets: readonly Needle[]): ScanResult {
  const targets = secrets.flatMap(targetsOf);
  const regions = scannableRegions(pid);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const buffer = Buffer.alloc(CHUNK + OVERLAP);
  const seen = new Map<string, Match>();
  let bytesRead = 0;
  let bytesUnreadable = 0;
  try {
    for (const region of regions) {
      for (let chunkStart = region.start; chunkStart < region.end; chunkStart += BigInt(CHUNK)) {
        const readStart = chunkStart - region.start >= BigInt(OVERLAP) ? chunkStart - BigInt(OVERLAP) : region.start;
        const readEnd = chunkStart + BigInt(CHUNK) < region.end ? chunkStart + BigInt(CHUNK) : region.end;
        const length = Number(readEnd - readStart);
        const { read, unreadable } = readRange(fd, buffer, readStart, length);
        bytesRead += read;
        bytesUnreadable += unreadable;
        const view = buffer.subarray(0, length);
        for (const target of targets) {
          for (let at = view.indexOf(target.bytes); at !== -1; at = view.indexOf(target.bytes, at + 1)) {
            const address = readStart + BigInt(at);
            const key = `${target.label}/${target.kind}@${address}`;
            if (seen.has(key)) continue;
            let kind = target.kind;
            if (kind === 'raw' && looksLikeBigIntDigits(view, at)) kind = 'bigint';
            const end = at + target.bytes.length;
            seen.set(key, {
              label: target.label,
              kind,
              address,
              region: region.line,
              before: view.subarray(Math.max(0, at - 32), at).toString('hex'),
              after: target.bytes.length === 32 ? view.subarray(end, Math.min(view.length, end + 32)).toString('hex') : '',
            });
          }
        }
      }
    }
  } finally {
    closeSync(fd);
    buffer.fill(0);
  }
  return { matches: dropPartialsOfWholeCopies([...seen.values()]), regions: regions.length, bytesRead, bytesUnreadable };
}

/** A 16-byte window inside a whole copy (or bigint) is that copy, not a separate partial one. */
function dropPartialsOfWholeCopies(matches: Match[]): Match[] {
  const whole = matches.filter((m) => m.kind === 'raw' || m.kind === 'bigint');
  return matches.filter(
    (m) => m.kind !== 'partial' || !whole.some((w) => w.label === m.label && m.address >= w.address && m.address < w.address + 32n),
  );
}

export function countByKind(matches: readonly Match[], label?: string): Record<MatchKind, number> {
  const counts: Record<MatchKind, number> = { raw: 0, bigint: 0, partial: 0, reversed: 0, 'hex-le': 0, 'hex-be': 0 };
  for (const match of matches) if (label === undefined || match.label === label) counts[match.kind] += 1;
  return counts;
}
