/**
 * Table requests whose body is a large string (entity group transactions: the SDK joins up to 100
 * operations into one multipart string) are sent as their UTF-8 bytes, encoded once, before the
 * request is signed. Otherwise the shared-key policy measures the string's UTF-8 length and the
 * socket encodes it again; for a body holding any character outside Latin-1 (names in most of
 * the world's scripts) V8 keeps the whole body as a two-byte, not yet flattened string, and each of
 * those passes costs about as much as building the body (docs/performance.md, "Where a worker's
 * CPU goes"). The bytes are the same; a retry sends the same Buffer.
 */
import type { PipelinePolicy } from "@azure/core-rest-pipeline";

/** Smaller bodies (single-entity writes, queries) are left as they are. */
export const ENCODED_BODY_MIN_LENGTH = 16 * 1024;

export function encodedBodyPolicy(): PipelinePolicy {
  return {
    name: "encodedBodyPolicy",
    sendRequest: (request, next) => {
      const body = request.body;
      if (typeof body === "string" && body.length >= ENCODED_BODY_MIN_LENGTH) request.body = Buffer.from(body, "utf8");
      return next(request);
    },
  };
}
