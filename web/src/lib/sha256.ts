// sha256 of bytes as lowercase hex, as the contract stores it. WebCrypto where the page is a
// secure context (https or loopback); otherwise the same digest from cosmjs's audited noble code.

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(data: ArrayBuffer | Uint8Array): Promise<string> {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (globalThis.crypto?.subtle) {
    return toHex(new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
  }
  const { sha256 } = await import("@cosmjs/crypto");
  return toHex(sha256(bytes));
}
