// The camera: rear camera at the highest resolution offered; ImageCapture.takePhoto where the
// browser has it, a frame from the video otherwise. Frames never leave memory unsealed.
// What you see is what is kept: the viewfinder shows the whole video frame (object-fit: contain,
// at the frame's own aspect), and a photo is always stored at that aspect: a still whose aspect
// differs from the video's (ImageCapture may use another sensor mode) is centre-cropped to it.

export async function openCamera(signal?: AbortSignal): Promise<MediaStream> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: "environment" }, width: { ideal: 4096 }, height: { ideal: 3072 } },
  });
  if (signal?.aborted) {
    stopCamera(stream);
    throw new DOMException("aborted", "AbortError");
  }
  return stream;
}

export function stopCamera(stream: MediaStream | null | undefined): void {
  stream?.getTracks().forEach((t) => t.stop());
}

/** Aspects closer than this are the same frame (rounding of sensor modes). */
const SAME_ASPECT = 0.005;

export async function takePhoto(stream: MediaStream, video: HTMLVideoElement): Promise<Blob> {
  const track = stream.getVideoTracks()[0];
  const aspect = video.videoWidth / video.videoHeight;
  if (track && typeof ImageCapture !== "undefined" && aspect > 0) {
    try {
      const ic = new ImageCapture(track);
      const caps = await ic.getPhotoCapabilities().catch(() => ({}) as Awaited<ReturnType<ImageCapture["getPhotoCapabilities"]>>);
      const blob = await ic.takePhoto(caps.imageWidth?.max ? { imageWidth: caps.imageWidth.max, imageHeight: caps.imageHeight?.max } : undefined);
      return await toShownFrame(blob, aspect);
    } catch {
      /* fall back to a video frame */
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d")!.drawImage(video, 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("no frame"))), "image/jpeg", 0.92));
}

/** The still as a JPEG at the viewfinder's aspect: untouched when it already is one, else cropped/re-encoded. */
async function toShownFrame(blob: Blob, aspect: number): Promise<Blob> {
  const bitmap = await createImageBitmap(blob);
  try {
    const crop = cropTo(bitmap.width, bitmap.height, aspect);
    const same = crop.w === bitmap.width && crop.h === bitmap.height;
    if (same && (blob.type === "image/jpeg" || blob.type === "")) return blob.type ? blob : new Blob([blob], { type: "image/jpeg" });
    const canvas = new OffscreenCanvas(crop.w, crop.h);
    canvas.getContext("2d")!.drawImage(bitmap, crop.x, crop.y, crop.w, crop.h, 0, 0, crop.w, crop.h);
    return await canvas.convertToBlob({ type: "image/jpeg", quality: 0.92 });
  } finally {
    bitmap.close();
  }
}

/** The centred rectangle of a width x height image that has the given aspect (the whole image when it has). */
export function cropTo(width: number, height: number, aspect: number): { x: number; y: number; w: number; h: number } {
  const have = width / height;
  if (Math.abs(have - aspect) / aspect <= SAME_ASPECT) return { x: 0, y: 0, w: width, h: height };
  if (have > aspect) {
    const w = Math.round(height * aspect);
    return { x: Math.floor((width - w) / 2), y: 0, w, h: height };
  }
  const h = Math.round(width / aspect);
  return { x: 0, y: Math.floor((height - h) / 2), w: width, h };
}
