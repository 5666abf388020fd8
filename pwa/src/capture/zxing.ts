// The library decoder, loaded only when the browser has no BarcodeDetector (headless Chromium on
// Linux, Firefox, older Safari). zxing-cpp compiled to WebAssembly; the .wasm is one of our own
// build assets (precached by the service worker), never fetched from a CDN, so scanning works
// offline. This module is imported dynamically by scan.ts: it is not in the app shell's bundle.
import { prepareZXingModule, readBarcodes, type ReadInputBarcodeFormat, type ZXingModuleOverrides } from "zxing-wasm/reader";
import wasmUrl from "zxing-wasm/reader/zxing_reader.wasm?url";

/** Formats a hospital wristband or an enrolment QR code may use, as zxing-cpp names them. */
export const ZXING_FORMATS = {
  code_128: "Code128",
  code_39: "Code39",
  qr_code: "QRCode",
  data_matrix: "DataMatrix",
} as const satisfies Record<string, ReadInputBarcodeFormat>;
export type ScanFormat = keyof typeof ZXING_FORMATS;

let prepared = false;

/** Where the .wasm comes from: our origin by default; tests hand it the bytes instead. */
export function prepareDecoder(overrides?: ZXingModuleOverrides): void {
  prepareZXingModule({
    overrides: overrides ?? {
      locateFile: (path: string, prefix: string) => (path.endsWith(".wasm") ? new URL(wasmUrl, document.baseURI).href : prefix + path),
    },
  });
  prepared = true;
}

/** Every barcode found in a frame (RGBA pixels) or an image file, as text. */
export async function decodeImage(
  input: ImageData | { data: Uint8ClampedArray; width: number; height: number } | Blob | Uint8Array,
  formats: readonly ScanFormat[],
): Promise<string[]> {
  if (!prepared) prepareDecoder();
  const results = await readBarcodes(input as ImageData | Blob | Uint8Array, {
    formats: formats.map((f) => ZXING_FORMATS[f]),
    tryHarder: true,
    tryRotate: true,
    maxNumberOfSymbols: 4,
  });
  return results.filter((r) => r.isValid && r.text).map((r) => r.text);
}
