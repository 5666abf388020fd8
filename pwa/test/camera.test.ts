import { describe, expect, it } from "vitest";
import { cropTo } from "../src/capture/camera.ts";

describe("a still is stored at the viewfinder's aspect", () => {
  it("keeps a still that already has the frame's aspect whole", () => {
    expect(cropTo(1920, 1080, 16 / 9)).toEqual({ x: 0, y: 0, w: 1920, h: 1080 });
    expect(cropTo(4032, 3024, 640 / 480)).toEqual({ x: 0, y: 0, w: 4032, h: 3024 });
  });

  it("centre-crops a 4:3 still to a 16:9 frame and a 16:9 still to a 3:4 frame", () => {
    expect(cropTo(4000, 3000, 16 / 9)).toEqual({ x: 0, y: 375, w: 4000, h: 2250 });
    const c = cropTo(1920, 1080, 3 / 4);
    expect(c).toEqual({ x: 555, y: 0, w: 810, h: 1080 });
    expect(c.w / c.h).toBeCloseTo(3 / 4, 3);
  });
});
