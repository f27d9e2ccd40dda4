/**
 * The validity rules of the app's certificate, the same in every mode that uses one
 * (keyVaultCertificate, keyVaultSignedAssertion): refuse one that has expired or is not valid yet,
 * warn when it expires within 30 days, and keep a cached one through a Key Vault outage only while it
 * is valid.
 */
import type { Logger } from "../shared/logger.js";
import { createCertificateError } from "./certificateErrors.js";
import type { KeyVaultCacheOptions } from "./keyVaultCache.js";
import { CERTIFICATE_EXPIRY_WARNING_IN_DAYS } from "../configuration/defaults.js";

/** What the rules need to know about a certificate (none of it secret). */
export interface CertificateValidity {
  /** The subject on one line, e.g. `CN=entra-user-sync`. */
  subject: string;
  /** Lowercase hex SHA-256 thumbprint. */
  thumbprintSha256: string;
  notBefore: Date;
  notAfter: Date;
}

const DAY_IN_MS = 24 * 60 * 60 * 1000;
const EXPIRY_WARNING_IN_MS = CERTIFICATE_EXPIRY_WARNING_IN_DAYS * DAY_IN_MS;

/** Throws certificate_expired or certificate_not_yet_valid, naming the dates and the fix. */
export function assertCertificateValid(certificate: CertificateValidity, now: Date): void {
  const { subject, thumbprintSha256, notBefore, notAfter } = certificate;
  if (now.getTime() > notAfter.getTime()) throw createCertificateError("expired", { subject, thumbprintSha256, notAfter });
  if (now.getTime() < notBefore.getTime()) throw createCertificateError("notYetValid", { subject, thumbprintSha256, notBefore });
}

/** Logs a warning when the certificate `name` (in Key Vault) expires within CERTIFICATE_EXPIRY_WARNING_IN_DAYS (30 days). */
export function warnIfExpiringSoon(name: string, certificate: CertificateValidity, now: Date, logger: Logger): void {
  const remainingMs = certificate.notAfter.getTime() - now.getTime();
  if (remainingMs > EXPIRY_WARNING_IN_MS) return;
  const days = Math.max(0, Math.floor(remainingMs / DAY_IN_MS));
  logger.warn(
    `The client certificate "${name}" (${certificate.subject}, SHA-256 thumbprint ${certificate.thumbprintSha256}) expires on ${certificate.notAfter.toISOString()}, in ${days} day(s). ` +
      "Create a new version in Key Vault (or let its lifetime action renew it) and add the new certificate to the app registration's Certificates & secrets.",
  );
}

/** The KeyVaultCache rules for a certificate: usable while valid, and a warning when an outage keeps it. */
export function certificateCacheRules<T extends CertificateValidity>(name: string, logger: Logger): Pick<KeyVaultCacheOptions<T>, "isUsable" | "onKeptCached"> {
  return {
    isUsable: (certificate, nowMs) => nowMs >= certificate.notBefore.getTime() && nowMs <= certificate.notAfter.getTime(),
    onKeptCached: (certificate, reason) =>
      logger.warn(
        `Could not refresh the client certificate "${name}" from Key Vault (${reason}); ` +
          `keeping the cached one (SHA-256 thumbprint ${certificate.thumbprintSha256}, valid until ${certificate.notAfter.toISOString()}).`,
      ),
  };
}
