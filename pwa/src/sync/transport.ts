// The sync I/O: JSON calls to /api/v1 with the device's bearer credential, and sealed blobs
// sent with a standard tus 1.0 client that resumes after a cut or a killed page.
import { Upload, type DetailedError, type HttpResponse } from "tus-js-client";
import { classifyHttp, SyncError } from "./protocol.ts";

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

export interface UploadRequest {
  blob: ArrayBuffer;
  batchId: string;
  photoId: string;
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface Transport {
  call<T = unknown>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<ApiAnswer<T>>;
  upload(req: UploadRequest): Promise<void>;
}

function offline(e: unknown): SyncError {
  if ((e as Error)?.name === "AbortError") return new SyncError("aborted", "Sync was stopped.", false);
  return new SyncError("offline", "The server cannot be reached. Check the Wi-Fi.", true);
}

/** Calls that answer with a non-2xx status are turned into SyncErrors, except those listed in `accept`. */
let revokedHandler: ((reason: SyncError) => void) | undefined;

/** Who wipes the phone when any device call meets a revocation. The answer's Clear-Site-Data may make the
 *  browser clear storage at once, so the wipe cannot wait for the next sync to meet the same refusal. */
export function onRevoked(handler: (reason: SyncError) => void): void {
  revokedHandler = handler;
}

export async function callJson<T>(
  base: string, credential: string | undefined, method: Method, path: string, body?: unknown, signal?: AbortSignal,
  accept: number[] = [],
): Promise<ApiAnswer<T>> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(credential ? { Authorization: `Bearer ${credential}` } : {}),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        Accept: "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal,
    });
  } catch (e) {
    throw offline(e);
  }
  let parsed: unknown = null;
  try {
    parsed = await res.json();
  } catch {
    parsed = null;
  }
  if (!res.ok && !accept.includes(res.status)) {
    const err = classifyHttp(res.status, parsed, res.headers.get("Clear-Site-Data"));
    if (err.wipe) revokedHandler?.(err);
    throw err;
  }
  return { status: res.status, body: parsed as T };
}

export class HttpTransport implements Transport {
  constructor(private base: string, private credential: string, private chunkSize = 1 << 20) {}

  call<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<ApiAnswer<T>> {
    return callJson<T>(this.base, this.credential, method, path, body, signal, [404, 409]);
  }

  upload({ blob, batchId, photoId, onProgress, signal }: UploadRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new SyncError("aborted", "Sync was stopped.", false));
      const upload = new Upload(new Blob([blob], { type: "application/octet-stream" }), {
        endpoint: `${this.base}/api/v1/uploads`,
        metadata: { batch_id: batchId, photo_id: photoId },
        headers: { Authorization: `Bearer ${this.credential}` },
        chunkSize: this.chunkSize,
        retryDelays: [0, 1000, 3000, 5000],
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        // One resumable upload per (batch, photo): a killed page finds it again and resumes.
        fingerprint: async () => `clinphoto:${batchId}:${photoId}`,
        onShouldRetry: (err) => {
          const status = (err as DetailedError).originalResponse?.getStatus() ?? 0;
          return status === 0 || status === 409 || status === 423 || status >= 500;
        },
        onProgress: (sent, total) => onProgress?.(sent, total),
        onSuccess: () => resolve(),
        onError: (err) => {
          const res: HttpResponse | null = (err as DetailedError).originalResponse ?? null;
          if (!res || res.getStatus() === 0) return reject(offline(err));
          let body: unknown = null;
          try {
            body = JSON.parse(res.getBody());
          } catch {
            body = null;
          }
          const e = classifyHttp(res.getStatus(), body, res.getHeader("Clear-Site-Data") ?? null);
          reject(e.code.startsWith("http_") ? new SyncError("upload_failed", e.message, e.retryable, e.wipe) : e);
        },
      });
      signal?.addEventListener("abort", () => {
        void upload.abort(false);
        reject(new SyncError("aborted", "Sync was stopped.", false));
      });
      upload
        .findPreviousUploads()
        .then((previous) => {
          if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
          upload.start();
        })
        .catch(() => upload.start());
    });
  }
}
