// The camera: rear camera at the highest resolution offered; ImageCapture.takePhoto where the
// browser has it, a frame from the video otherwise. Frames never leave memory unsealed.

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

export async function takePhoto(stream: MediaStream, video: HTMLVideoElement): Promise<Blob> {
  const track = stream.getVideoTracks()[0];
  if (track && typeof ImageCapture !== "undefined") {
    try {
      const ic = new ImageCapture(track);
      const caps = await ic.getPhotoCapabilities().catch(() => ({}) as Awaited<ReturnType<ImageCapture["getPhotoCapabilities"]>>);
      const blob = await ic.takePhoto(caps.imageWidth?.max ? { imageWidth: caps.imageWidth.max, imageHeight: caps.imageHeight?.max } : undefined);
      if (blob.type === "image/jpeg" || blob.type === "") return blob.type ? blob : new Blob([blob], { type: "image/jpeg" });
      return reencodeJpeg(blob);
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

async function reencodeJpeg(blob: Blob): Promise<Blob> {
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  canvas.getContext("2d")!.drawImage(bitmap, 0, 0);
  bitmap.close();
  return canvas.convertToBlob({ type: "image/jpeg", quality: 0.92 });
}
