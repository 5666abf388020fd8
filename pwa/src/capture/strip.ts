// Lossless removal of location metadata from a JPEG: every APP1 segment (Exif, where GPS lives,
// and XMP) is dropped; every other byte is copied unchanged, so no re-encoding happens.

export class NotJpegError extends Error {}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export function stripAppSegments(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  if (!isJpeg(bytes)) throw new NotJpegError("not a JPEG");
  const parts: Uint8Array[] = [bytes.subarray(0, 2)];
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new NotJpegError("corrupt JPEG marker");
    const marker = bytes[at + 1]!;
    if (marker === 0xff) { // fill byte
      at += 1;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // start of scan / end: the rest is entropy-coded data
    if (marker >= 0xd0 && marker <= 0xd7) { // standalone markers
      parts.push(bytes.subarray(at, at + 2));
      at += 2;
      continue;
    }
    const len = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (len < 2 || at + 2 + len > bytes.length) throw new NotJpegError("truncated JPEG segment");
    if (marker !== 0xe1) parts.push(bytes.subarray(at, at + 2 + len));
    at += 2 + len;
  }
  parts.push(bytes.subarray(at));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** True when the JPEG still carries an APP1 segment (tests, and a last check before sealing). */
export function hasAppSegment(bytes: Uint8Array): boolean {
  if (!isJpeg(bytes)) return false;
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1]!;
    if (marker === 0xda || marker === 0xd9) return false;
    if (marker === 0xe1) return true;
    at += 2 + ((bytes[at + 2]! << 8) | bytes[at + 3]!);
  }
  return false;
}
