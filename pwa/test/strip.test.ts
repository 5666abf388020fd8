import { describe, expect, it } from "vitest";
import { hasAppSegment, stripAppSegments } from "../src/capture/strip.ts";

function seg(marker: number, body: number[]): number[] {
  const len = body.length + 2;
  return [0xff, marker, len >> 8, len & 0xff, ...body];
}

describe("location metadata stripping", () => {
  it("drops APP1 (Exif, XMP) and keeps every other byte", () => {
    const exif = seg(0xe1, [...new TextEncoder().encode("Exif\0\0GPS 48.85N 2.35E")]);
    const app0 = seg(0xe0, [...new TextEncoder().encode("JFIF\0"), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    const dqt = seg(0xdb, new Array(65).fill(7));
    const sos = [...seg(0xda, [1, 1, 0, 0, 0x3f, 0]), 0x12, 0xff, 0x00, 0x34, 0xff, 0xd9];
    const jpeg = new Uint8Array([0xff, 0xd8, ...app0, ...exif, ...dqt, ...sos]);
    expect(hasAppSegment(jpeg)).toBe(true);
    const out = stripAppSegments(jpeg);
    expect(hasAppSegment(out)).toBe(false);
    expect([...out]).toEqual([0xff, 0xd8, ...app0, ...dqt, ...sos]);
    expect(new TextDecoder().decode(out)).not.toContain("GPS");
  });

  it("refuses what is not a JPEG", () => {
    expect(() => stripAppSegments(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toThrow();
  });
});
