import "server-only";

import { createHash } from "node:crypto";

// Pins files through Kubo's RPC (POST-only admin API, loopback). Only the app's server talks to
// it; the browser gets the resulting CID, size and sha256.

export class PinError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface PinnedFile {
  cid: string;
  size: number;
  sha256: string;
}

export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

async function kubo(apiUrl: string, path: string, body?: FormData): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${apiUrl}/api/v0/${path}`, { method: "POST", body, cache: "no-store" });
  } catch {
    throw new PinError("the IPFS node (Kubo RPC) is unreachable", 502);
  }
  if (!response.ok) throw new PinError(`the IPFS node refused: ${(await response.text()).trim().slice(0, 300)}`, 502);
  return response;
}

/**
 * Adds and pins `bytes` (CIDv1, raw leaves), then reads them back by CID and checks the sha256,
 * so the CID handed to the chain is known to serve exactly these bytes.
 */
export async function pinToKubo(apiUrl: string, name: string, bytes: Uint8Array): Promise<PinnedFile> {
  const sha256 = sha256Hex(bytes);
  const form = new FormData();
  form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  const added = (await (await kubo(apiUrl, "add?cid-version=1&pin=true", form)).json()) as { Hash?: string; Size?: string };
  if (!added.Hash) throw new PinError("the IPFS node answered without a CID", 502);
  const readBack = new Uint8Array(await (await kubo(apiUrl, `cat?arg=${encodeURIComponent(added.Hash)}`)).arrayBuffer());
  if (sha256Hex(readBack) !== sha256) throw new PinError(`the IPFS node serves other bytes under ${added.Hash}`, 502);
  return { cid: added.Hash, size: bytes.byteLength, sha256 };
}
