import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Opaque, tamper-evident tokens (Graph's skip tokens and delta tokens): base64url of a truncated
 * HMAC-SHA256 followed by the JSON payload. The simulator keeps no paging state; it reads it back.
 */
const MAC_BYTES = 16;

export function sealToken(key: Buffer, payload: unknown): string {
  const bytes = Buffer.from(JSON.stringify(payload), "utf8");
  const mac = createHmac("sha256", key).update(bytes).digest().subarray(0, MAC_BYTES);
  return Buffer.concat([mac, bytes]).toString("base64url");
}

/** The payload, or undefined when the token was not sealed with `key`, was altered, or is not JSON. */
export function openToken(key: Buffer, token: string): unknown {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const raw = Buffer.from(token, "base64url");
  if (raw.length <= MAC_BYTES) return undefined;
  const bytes = raw.subarray(MAC_BYTES);
  const expected = createHmac("sha256", key).update(bytes).digest().subarray(0, MAC_BYTES);
  if (!timingSafeEqual(raw.subarray(0, MAC_BYTES), expected)) return undefined;
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}
