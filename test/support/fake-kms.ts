/**
 * A fake KMS `GetPublicKey` endpoint on 127.0.0.1, in the role moto plays in the rehearsal:
 * each call is recorded with the emulated account it was sent as (the x-moto-account-id
 * header the CLI's emulator clients send), and answered with an Ed25519 SPKI per key id.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeKmsCall {
  readonly account: string | undefined;
  readonly target: string | undefined;
  readonly keyId: string;
}

export interface FakeKms {
  readonly endpoint: string;
  readonly calls: FakeKmsCall[];
  close(): Promise<void>;
}

export function newEd25519Spki(): Buffer {
  return generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
}

/** Starts the server; `spkiFor` chooses the public key of each key id (default: a new one per id, kept). */
export async function startFakeKms(spkiFor?: (keyId: string) => Buffer): Promise<FakeKms> {
  const keys = new Map<string, Buffer>();
  const calls: FakeKmsCall[] = [];
  const keyFor =
    spkiFor ??
    ((keyId: string) => {
      let spki = keys.get(keyId);
      if (spki === undefined) {
        spki = newEd25519Spki();
        keys.set(keyId, spki);
      }
      return spki;
    });
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const keyId = String((JSON.parse(body || '{}') as { KeyId?: unknown }).KeyId);
      calls.push({ account: request.headers['x-moto-account-id']?.toString(), target: request.headers['x-amz-target']?.toString(), keyId });
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify({ KeyId: keyId, KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY', PublicKey: keyFor(keyId).toString('base64'), SigningAlgorithms: ['ED25519_SHA_512'] }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
