/**
 * Last line of defence against secrets in logs and errors: every message the product writes to a
 * log, a run record or a terminal goes through redact(). The first line of defence is never putting
 * a secret into a message in the first place.
 */
const PATTERNS: Array<[RegExp, string]> = [
  // PEM blocks (private keys, certificates) — the whole block.
  [/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g, "[redacted PEM]"],
  // JWTs (access tokens, client assertions): three base64url segments, the first a JSON header.
  [/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, "[redacted token]"],
  // Authorization header values.
  [/\b(Bearer|Basic|SharedKey|SharedKeyLite)\s+[A-Za-z0-9._~+/=:-]{8,}/gi, "$1 [redacted]"],
  // Connection-string and form secrets.
  [/\b(AccountKey|SharedAccessSignature|SharedAccessKey|client_secret|client_assertion|access_token|refresh_token|password)\s*[=:]\s*("?)[^;&\s"]+\2/gi, "$1=[redacted]"],
  // SAS signatures in URLs.
  [/([?&]sig=)[^&\s"]+/gi, "$1[redacted]"],
];

export function redact(text: string): string {
  let result = text;
  for (const [pattern, replacement] of PATTERNS) result = result.replace(pattern, replacement);
  return result;
}
