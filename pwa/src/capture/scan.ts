// Barcode scanning with the rear camera: the browser's BarcodeDetector where it has one that knows
// the formats, the zxing-cpp WebAssembly decoder otherwise (loaded lazily from ./zxing.ts, its
// .wasm precached with the app shell so it works offline). Frames stay in memory; nothing is kept.
import type { ScanFormat } from "./zxing.ts";

export type { ScanFormat };

declare global {
  // Shape Chromium, Safari and Android give (Shape Detection API); absent on Linux desktop.
  // eslint-disable-next-line no-var
  var BarcodeDetector:
    | (new (opts?: { formats?: string[] }) => { detect(source: CanvasImageSource): Promise<{ rawValue: string }[]> }) & {
        getSupportedFormats?: () => Promise<string[]>;
      }
    | undefined;
}

/** Hospital wristbands: Code 128 / Code 39 (linear), DataMatrix / QR (2D). */
export const WRISTBAND_FORMATS: readonly ScanFormat[] = ["code_128", "code_39", "data_matrix", "qr_code"];
/** The enrolment QR code shown on the administrator's screen. */
export const ENROL_FORMATS: readonly ScanFormat[] = ["qr_code"];

/** Which decoder a scan will use: the native one, the library, or none (no camera API). */
export async function decoderKind(formats: readonly ScanFormat[]): Promise<"native" | "library" | "none"> {
  if (typeof navigator === "undefined" || !navigator.mediaDevices?.getUserMedia) return "none";
  const BD = globalThis.BarcodeDetector;
  if (BD) {
    try {
      const supported = BD.getSupportedFormats ? await BD.getSupportedFormats() : [...formats];
      if (formats.every((f) => supported.includes(f))) return "native";
    } catch {
      /* use the library */
    }
  }
  return typeof WebAssembly === "object" ? "library" : "none";
}

export function cameraAvailable(): boolean {
  return typeof navigator !== "undefined" && !!navigator.mediaDevices?.getUserMedia;
}

type FrameDecoder = (video: HTMLVideoElement) => Promise<string[]>;

async function frameDecoder(formats: readonly ScanFormat[]): Promise<FrameDecoder> {
  if ((await decoderKind(formats)) === "native") {
    const detector = new globalThis.BarcodeDetector!({ formats: [...formats] });
    return async (video) => (await detector.detect(video)).map((b) => b.rawValue);
  }
  const { decodeImage } = await import("./zxing.ts");
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  return async (video) => {
    // At most 1280 px wide: enough for a wristband at arm's length, fast enough to decode.
    const scale = Math.min(1, 1280 / Math.max(1, video.videoWidth));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    if (!canvas.width || !canvas.height) return [];
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    return decodeImage(ctx.getImageData(0, 0, canvas.width, canvas.height), formats);
  };
}

export interface ScanOptions {
  video: HTMLVideoElement;
  formats: readonly ScanFormat[];
  /** Turns a decoded text into the value wanted, or null to keep looking. */
  accept: (text: string) => string | null;
  /** Called with a text that was read but not accepted (to say "not a patient identifier"). */
  onRejected?: (text: string) => void;
  signal: AbortSignal;
}

/**
 * Opens the rear camera in `video`, decodes frames until `accept` takes one, stops the camera
 * and resolves with the accepted value. Rejects with AbortError when `signal` aborts.
 */
export async function scan(opts: ScanOptions): Promise<string> {
  const { video, signal } = opts;
  const aborted = () => new DOMException("aborted", "AbortError");
  const decoderP = frameDecoder(opts.formats); // the library loads while the camera starts
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
  });
  try {
    if (signal.aborted) throw aborted();
    video.srcObject = stream;
    video.muted = true;
    video.playsInline = true;
    await video.play();
    const decode = await decoderP;
    const rejected = new Set<string>();
    while (!signal.aborted) {
      if (video.readyState >= 2) {
        const texts = await decode(video).catch(() => [] as string[]);
        for (const text of texts) {
          const value = opts.accept(text);
          if (value !== null) return value;
          if (!rejected.has(text)) {
            rejected.add(text);
            opts.onRejected?.(text);
          }
        }
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw aborted();
  } finally {
    stream.getTracks().forEach((tr) => tr.stop());
    if (video.srcObject === stream) video.srcObject = null;
  }
}

const ENROL_CODE = /^([0-9A-Z]{4})-?([0-9A-Z]{4})-?([0-9A-Z]{4})$/i;

function bareCode(text: string): string | null {
  const m = ENROL_CODE.exec(text.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}`.toUpperCase() : null;
}

/** The one-time code in a URL fragment: `#enrol=XXXX-XXXX-XXXX` (or the console's `#/enrol/XXXX-XXXX-XXXX`). */
export function enrolCodeFromHash(hash: string): string | null {
  let h = hash.startsWith("#") ? hash.slice(1) : hash;
  try {
    h = decodeURIComponent(h);
  } catch {
    return null;
  }
  const m = /^(?:enrol=|\/enrol\/)([^&/?#]+)$/i.exec(h);
  return m ? bareCode(m[1]!) : null;
}

/**
 * The enrolment QR payload: the bare code `XXXX-XXXX-XXXX`, or a URL
 * `https://<server>/#enrol=XXXX-XXXX-XXXX`. Anything else is not an enrolment code.
 * Only the code is used: the phone enrols with the server it was loaded from.
 */
export function enrolCodeFromScan(text: string): string | null {
  const t = text.trim();
  const bare = bareCode(t);
  if (bare) return bare;
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  return enrolCodeFromHash(url.hash);
}

/**
 * A wristband barcode's text as a patient identifier candidate: surrounding spaces and control
 * characters (GS1 FNC1, CR/LF some scanners add) removed. The caller validates it exactly like
 * typed input.
 */
export function cleanScannedId(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, "").trim();
}
