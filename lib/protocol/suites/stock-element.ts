/**
 * RFC 9591 §3.1 DeserializeElement as a predicate for the suites built on noble's stock
 * Point (secp256k1-tr, Ed448), which have no validated-point cache (validated-points.ts is
 * Ed25519's): the exact encoding length, then noble's own decoder and checks.
 */
interface CheckablePoint {
  assertValidity(): void;
  is0(): boolean;
  isTorsionFree(): boolean;
}

export function stockElementCheck(Point: { fromBytes(bytes: Uint8Array): CheckablePoint }, elementBytes: number): (bytes: Uint8Array) => boolean {
  return (bytes) => {
    // noble's secp256k1 decoder also takes 65-byte uncompressed points: SerializeElement is compressed only.
    if (bytes.length !== elementBytes) return false;
    try {
      const point = Point.fromBytes(bytes);
      point.assertValidity();
      return !point.is0() && point.isTorsionFree();
    } catch {
      return false; // not an encoding of a valid element
    }
  };
}
