// A fake camera that shows a given barcode: bwip-js draws it, the repo's Python (Pillow) lays it
// on a frame and writes a Y4M file, and Chromium plays that file as its camera
// (--use-file-for-fake-video-capture). The file starts with blank frames so the scanning screen
// can be seen (and photographed) before the barcode comes into view; Chromium loops it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bwipjs from "bwip-js/node";
import { chromium, type BrowserContext } from "playwright-core";
import { ARGS, CHROMIUM } from "./browser.ts";
import { REPO } from "./server.ts";

const PYTHON = join(REPO, ".venv/bin/python");

const Y4M_SCRIPT = `
import sys
from PIL import Image
png, out, blank, shown = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
W, H = 640, 480
code = Image.open(png).convert("L")
if code.width > W - 40:
    code = code.resize((W - 40, round(code.height * (W - 40) / code.width)), Image.NEAREST)
frame = Image.new("L", (W, H), 200)
frame.paste(code, ((W - code.width) // 2, (H - code.height) // 2))
empty = Image.new("L", (W, H), 200)
chroma = bytes([128]) * ((W // 2) * (H // 2) * 2)
with open(out, "wb") as f:
    f.write(b"YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\\n" % (W, H))
    for img in [empty] * blank + [frame] * shown:
        f.write(b"FRAME\\n")
        f.write(img.tobytes())
        f.write(chroma)
`;

/** A Y4M camera file: `blankSeconds` of an empty grey frame, then the barcode for 2 s, looping. */
export async function barcodeVideo(bcid: "code128" | "code39" | "qrcode" | "datamatrix", text: string, blankSeconds = 4): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "clinphoto-cam-"));
  const png = join(dir, "code.png");
  const extra = bcid === "code128" || bcid === "code39" ? { height: 14 } : {};
  writeFileSync(png, await bwipjs.toBuffer({ bcid, text, scale: 3, paddingwidth: 12, paddingheight: 12, backgroundcolor: "FFFFFF", ...extra }));
  const out = join(dir, "camera.y4m");
  execFileSync(PYTHON, ["-c", Y4M_SCRIPT, png, out, String(blankSeconds * 10), "20"]);
  return out;
}

/** Like browser.ts launch(), with the camera showing `video`. */
export async function launchWithCamera(userDataDir: string, video: string, locale = "en-GB"): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: false, // --headless=new is in ARGS
    args: [...ARGS, `--use-file-for-fake-video-capture=${video}`],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    locale,
    permissions: ["camera"],
  });
}
