// The library decoder path (zxing-cpp WebAssembly, used where the browser has no BarcodeDetector)
// against real barcode images made by bwip-js, and the enrolment / wristband payload rules.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { inflateSync } from "node:zlib";
import bwipjs from "bwip-js/node";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { cleanScannedId, decoderKind, ENROL_FORMATS, enrolCodeFromHash, enrolCodeFromScan, WRISTBAND_FORMATS } from "../src/capture/scan.ts";
import { decodeImage, prepareDecoder } from "../src/capture/zxing.ts";
import { acceptPatientId } from "../src/ui/patient/accept.ts";

type Rgba = { data: Uint8ClampedArray; width: number; height: number };

/** Just enough PNG decoding (8-bit gray/RGB/RGBA, non-interlaced) for bwip-js output. */
function decodePng(png: Uint8Array): Rgba {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let pos = 8, width = 0, height = 0, colorType = 0;
  const idat: Uint8Array[] = [];
  while (pos < png.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(...png.subarray(pos + 4, pos + 8));
    const body = png.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      if (body[8] !== 8 || body[12] !== 0) throw new Error("unsupported PNG");
      colorType = body[9]!;
    } else if (type === "IDAT") idat.push(body);
    pos += 12 + len;
  }
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (!channels) throw new Error(`PNG colour type ${colorType}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const cur = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? px[y * stride + x - channels]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels]! : 0;
      const p = a + b - c;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1
        : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      px[y * stride + x] = (cur + pred) & 0xff;
    }
  }
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const s = i * channels;
    const gray = channels < 3;
    data[i * 4] = px[s]!;
    data[i * 4 + 1] = gray ? px[s]! : px[s + 1]!;
    data[i * 4 + 2] = gray ? px[s]! : px[s + 2]!;
    data[i * 4 + 3] = 255;
  }
  return { data, width, height };
}

/** The barcode pasted into a larger grey "camera frame", off centre, with some noise. */
function inFrame(code: Rgba, width = 1280, height = 720): Rgba {
  const data = new Uint8ClampedArray(width * height * 4);
  let seed = 7;
  for (let i = 0; i < width * height; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const v = 150 + (seed % 21);
    data.set([v, v, v, 255], i * 4);
  }
  const ox = 200, oy = 150;
  for (let y = 0; y < code.height; y++) {
    for (let x = 0; x < code.width; x++) {
      const s = (y * code.width + x) * 4;
      const d = ((oy + y) * width + ox + x) * 4;
      const v = code.data[s]! < 128 ? 20 : 235;
      data.set([v, v, v, 255], d);
    }
  }
  return { data, width, height };
}

async function barcode(bcid: string, text: string, extra: Record<string, unknown> = {}): Promise<Uint8Array> {
  return new Uint8Array(await bwipjs.toBuffer({ bcid, text, scale: 3, paddingwidth: 10, paddingheight: 10, backgroundcolor: "FFFFFF", ...extra }));
}

beforeAll(() => {
  const require = createRequire(import.meta.url);
  const wasm = readFileSync(require.resolve("zxing-wasm/reader/zxing_reader.wasm"));
  prepareDecoder({ wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer });
});

describe("library barcode decoder (zxing-cpp wasm)", () => {
  it.each([
    ["code128", "8001234567", { height: 12 }],
    ["code39", "IPP-42424", { height: 12 }],
    ["qrcode", "8001234567", {}],
    ["datamatrix", "IPP-2026-0001", {}],
  ] as const)("reads a %s wristband from camera-frame pixels", async (bcid, text, extra) => {
    const frame = inFrame(decodePng(await barcode(bcid, text, extra)));
    const found = await decodeImage(frame, WRISTBAND_FORMATS);
    expect(found).toContain(text);
    expect(found.map(acceptPatientId)).toContain(text);
  });

  it("reads an enrolment QR code (URL form) from a PNG file", async () => {
    const url = "https://photo.hopital.example/#enrol=AB12-CD34-EF56";
    const found = await decodeImage(await barcode("qrcode", url), ["qr_code"]);
    expect(found).toEqual([url]);
    expect(enrolCodeFromScan(found[0]!)).toBe("AB12-CD34-EF56");
  });

  it("finds nothing in a frame without a barcode, and ignores formats not asked for", async () => {
    const blank = inFrame({ data: new Uint8ClampedArray(4 * 4 * 4).fill(255), width: 4, height: 4 });
    expect(await decodeImage(blank, WRISTBAND_FORMATS)).toEqual([]);
    const code128 = inFrame(decodePng(await barcode("code128", "8001234567", { height: 12 })));
    expect(await decodeImage(code128, ["qr_code"])).toEqual([]);
  });
});

describe("scanned payloads", () => {
  it("takes the enrolment code bare or from the URL fragment", () => {
    expect(enrolCodeFromScan("AB12-CD34-EF56")).toBe("AB12-CD34-EF56");
    expect(enrolCodeFromScan(" ab12cd34ef56\n")).toBe("AB12-CD34-EF56");
    expect(enrolCodeFromScan("https://srv.example/#enrol=AB12-CD34-EF56")).toBe("AB12-CD34-EF56");
    expect(enrolCodeFromScan("https://srv.example:8443/app/#enrol=ab12-cd34-ef56")).toBe("AB12-CD34-EF56");
    expect(enrolCodeFromScan("https://srv.example/#/enrol/AB12-CD34-EF56")).toBe("AB12-CD34-EF56");
    expect(enrolCodeFromScan("http://127.0.0.1:8080/#enrol=AB12-CD34-EF56")).toBe("AB12-CD34-EF56");
    for (const bad of ["", "AB12-CD34", "AB12-CD34-EF56-GH78", "https://srv.example/?enrol=AB12-CD34-EF56",
      "https://srv.example/#enrol=AB12-CD34-EF5!", "javascript:alert(1)//#enrol=AB12-CD34-EF56", "8001234567",
      "https://srv.example/#/register/AB12-CD34-EF56"]) {
      expect(enrolCodeFromScan(bad), bad).toBeNull();
    }
  });

  it("takes the code from the address the app was opened with", () => {
    expect(enrolCodeFromHash("#enrol=AB12-CD34-EF56")).toBe("AB12-CD34-EF56");
    expect(enrolCodeFromHash("#enrol%3DAB12-CD34-EF56")).toBe("AB12-CD34-EF56");
    expect(enrolCodeFromHash("#/enrol/AB12-CD34-EF56")).toBe("AB12-CD34-EF56");
    expect(enrolCodeFromHash("#/admin")).toBeNull();
    expect(enrolCodeFromHash("")).toBeNull();
    expect(enrolCodeFromHash("#enrol=%E0%A4%A")).toBeNull();
  });

  it("validates a scanned wristband value exactly like typed input", () => {
    expect(cleanScannedId("\u001d8001234567\r\n")).toBe("8001234567");
    expect(acceptPatientId(" 8001234567 ")).toBe("8001234567");
    expect(acceptPatientId("IPP-42424")).toBe("IPP-42424");
    expect(acceptPatientId("AB")).toBeNull();
    expect(acceptPatientId("IPP 42424")).toBeNull();
    expect(acceptPatientId("https://evil.example/x")).toBeNull();
    expect(acceptPatientId("A".repeat(33))).toBeNull();
  });
});

describe("which decoder a scan uses", () => {
  afterEach(() => vi.unstubAllGlobals());
  const camera = { mediaDevices: { getUserMedia: async () => undefined } };

  it("the browser's BarcodeDetector when it knows every format asked for", async () => {
    vi.stubGlobal("navigator", camera);
    vi.stubGlobal("BarcodeDetector", Object.assign(class {}, { getSupportedFormats: async () => ["qr_code", "code_128", "code_39", "data_matrix", "ean_13"] }));
    expect(await decoderKind(WRISTBAND_FORMATS)).toBe("native");
  });

  it("the library when the native one lacks a wristband format, or is absent", async () => {
    vi.stubGlobal("navigator", camera);
    vi.stubGlobal("BarcodeDetector", Object.assign(class {}, { getSupportedFormats: async () => ["qr_code"] }));
    expect(await decoderKind(WRISTBAND_FORMATS)).toBe("library");
    expect(await decoderKind(ENROL_FORMATS)).toBe("native");
    vi.stubGlobal("BarcodeDetector", undefined);
    expect(await decoderKind(ENROL_FORMATS)).toBe("library");
  });

  it("none without a camera API", async () => {
    vi.stubGlobal("navigator", {});
    expect(await decoderKind(WRISTBAND_FORMATS)).toBe("none");
  });
});
