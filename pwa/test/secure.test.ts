// The start-up gate: which browser capabilities are missing, and the HTTPS address to suggest.
import { describe, expect, it } from "vitest";
import { httpsAddress, missingCapabilities } from "../src/secure.ts";

describe("secure context gate", () => {
  it("names everything a plain-HTTP page by host name lacks", () => {
    expect(missingCapabilities({ isSecureContext: false, crypto: {}, navigator: {} }))
      .toEqual(["secure_context", "webcrypto", "service_worker"]);
  });

  it("passes a secure context with WebCrypto and service workers", () => {
    expect(missingCapabilities({ isSecureContext: true, crypto: { subtle: {} }, navigator: { serviceWorker: {} } })).toEqual([]);
  });

  it("refuses a secure context whose browser lacks service workers (e.g. a private window)", () => {
    expect(missingCapabilities({ isSecureContext: true, crypto: { subtle: {} }, navigator: {} })).toEqual(["service_worker"]);
  });

  it("suggests the https form of the host name, without the plain-HTTP port", () => {
    expect(httpsAddress({ protocol: "http:", hostname: "ward3.chu.example" })).toBe("https://ward3.chu.example/");
    expect(httpsAddress({ protocol: "http:", hostname: "fe80::1" })).toBe("https://[fe80::1]/");
    expect(httpsAddress({ protocol: "https:", hostname: "ward3.chu.example" })).toBeNull();
    expect(httpsAddress({ protocol: "file:", hostname: "" })).toBeNull();
  });
});
