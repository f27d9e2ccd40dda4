/**
 * Failures of the app's certificate (keyVaultCertificate, keyVaultSignedAssertion): what went wrong
 * (`CertificateFailure`), the facts each message names, its code and its fix, and one factory
 * (`createCertificateError`). No message carries key material: only names, dates and thumbprints.
 */
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";

type Details = UserSyncError["details"];

/** Where a Key Vault certificate is: its name, version and vault. */
interface InVault {
  name: string;
  version: string | undefined;
  vaultUrl: string;
}

/** The facts each failure's message names. */
export interface CertificateFailureFacts {
  /** The secret is neither PKCS#12 nor PEM. */
  unknownFormat: { contentType: string | undefined; expected: string };
  notPkcs12: { contentType: string; reason: string };
  notPem: { contentType: string; reason: string };
  keyUnreadable: { source: string };
  certificateNotX509: Record<string, never>;
  noCertificate: Record<string, never>;
  /** The secret holds the certificate but not its key (the key is not exportable). */
  noPrivateKey: { subject: string; thumbprintSha256: string };
  keyMatchesNoCertificate: { subjects: string[] };
  notRsa: { subject: string; keyType: string | undefined };
  expired: { subject: string; thumbprintSha256: string; notAfter: Date };
  notYetValid: { subject: string; thumbprintSha256: string; notBefore: Date };
  /** keyVaultCertificate: the backing secret has no value. */
  backingSecretEmpty: InVault;
  /** keyVaultCertificate: the certificate and its backing secret hold different certificates. */
  partsDiffer: InVault & { thumbprintSha256: string };
  /** keyVaultSignedAssertion: no issued certificate or key yet. */
  pendingIssuance: InVault;
  /** keyVaultSignedAssertion: the certificate's `cer` is not X.509. */
  cerNotX509: InVault;
  /** keyVaultSignedAssertion: Key Vault's signature does not verify with the certificate's public key. */
  signatureDoesNotVerify: { name: string; keyId: string; thumbprintSha256: string };
}

export type CertificateFailure = keyof CertificateFailureFacts;

const RENEW_FIX =
  "Create a new version of the certificate in Key Vault (Certificates > the certificate > New Version, or give its policy a lifetime action that renews it automatically), " +
  "then add the new certificate's public part (.cer) to the app registration under Certificates & secrets. The function picks up the new version on its next certificate refresh or restart.";

const latest = (version: string | undefined): string => version ?? "latest";

/** Each failure's code, message and details. */
export const CertificateFailures: { [F in CertificateFailure]: { code: UserSyncErrorCode; message: (facts: CertificateFailureFacts[F]) => string; details?: (facts: CertificateFailureFacts[F]) => Details } } = {
  unknownFormat: {
    code: "certificate_unreadable",
    message: (f) =>
      `The Key Vault secret has ${f.contentType ? `content type "${f.contentType}"` : "no content type"} and is neither PKCS#12 nor PEM. ${f.expected} ` +
      "Point KEY_VAULT_CERTIFICATE_NAME at a Key Vault certificate (not a plain secret), or re-import the certificate as a .pfx or .pem file.",
    details: (f) => ({ contentType: f.contentType ?? "" }),
  },
  notPkcs12: {
    code: "certificate_unreadable",
    message: (f) =>
      `The Key Vault secret (${f.contentType}) could not be read as PKCS#12: ${f.reason}. ` +
      "Key Vault stores certificates without a password; if the certificate was imported, re-import the .pfx into Key Vault (Certificates > Generate/Import) rather than storing it as a plain secret.",
    details: (f) => ({ contentType: f.contentType }),
  },
  notPem: {
    code: "certificate_unreadable",
    message: (f) =>
      `The Key Vault secret (${f.contentType}) could not be read as PEM: ${f.reason}. ` +
      "Re-import the certificate into Key Vault as a .pem file holding the unencrypted private key and the certificate chain.",
    details: (f) => ({ contentType: f.contentType }),
  },
  keyUnreadable: {
    code: "certificate_unreadable",
    message: (f) => `The private key in the Key Vault secret (${f.source}) could not be read.`,
  },
  certificateNotX509: {
    code: "certificate_unreadable",
    message: () => "A certificate in the Key Vault secret could not be read as X.509.",
  },
  noCertificate: {
    code: "certificate_unreadable",
    message: () => "The Key Vault secret holds no certificate. Point KEY_VAULT_CERTIFICATE_NAME at a Key Vault certificate, not a plain secret.",
  },
  noPrivateKey: {
    code: "certificate_no_private_key",
    message: (f) =>
      `The Key Vault secret holds the certificate "${f.subject}" but no private key. ` +
      "The certificate's policy must make the key exportable (Key Vault > Certificates > the certificate > Issuance Policy > Advanced Policy Configuration > Exportable private key: Yes, or `exportable: true` in keyProperties); " +
      "a policy's exportability cannot be changed on an existing key, so create a new certificate (or import a .pfx that includes the key).",
    details: (f) => ({ thumbprintSha256: f.thumbprintSha256 }),
  },
  keyMatchesNoCertificate: {
    code: "certificate_key_mismatch",
    message: (f) =>
      `The private key in the Key Vault secret matches none of its ${f.subjects.length} certificate(s) (${f.subjects.map((subject) => `"${subject}"`).join(", ")}). ` +
      "The secret was probably edited by hand or imported from a mismatched key and certificate; re-import a .pfx or .pem whose key belongs to the certificate.",
  },
  notRsa: {
    code: "certificate_unreadable",
    message: (f) =>
      `The certificate "${f.subject}" has a ${f.keyType?.toUpperCase() ?? "non-RSA"} key, but Microsoft Entra certificate credentials (and MSAL's client assertions) need RSA. ` +
      "Create the Key Vault certificate with key type RSA (2048 bits or more).",
  },
  expired: {
    code: "certificate_expired",
    message: (f) => `The client certificate "${f.subject}" (SHA-256 thumbprint ${f.thumbprintSha256}) expired on ${f.notAfter.toISOString()}. ${RENEW_FIX}`,
    details: (f) => ({ thumbprintSha256: f.thumbprintSha256, notAfter: f.notAfter.toISOString() }),
  },
  notYetValid: {
    code: "certificate_not_yet_valid",
    message: (f) =>
      `The client certificate "${f.subject}" (SHA-256 thumbprint ${f.thumbprintSha256}) is not valid until ${f.notBefore.toISOString()}. ` +
      "Wait until then, check this machine's clock, or switch back to the previous certificate version in Key Vault (disable the new version).",
    details: (f) => ({ thumbprintSha256: f.thumbprintSha256, notBefore: f.notBefore.toISOString() }),
  },
  backingSecretEmpty: {
    code: "certificate_no_private_key",
    message: (f) =>
      `The backing secret of Key Vault certificate "${f.name}" (version ${latest(f.version)}) in ${f.vaultUrl} has no value. ` +
      "The certificate may still be pending issuance (check its Certificate Operation in Key Vault), or its key is not exportable: the certificate policy must make the key exportable.",
  },
  partsDiffer: {
    code: "certificate_key_mismatch",
    message: (f) =>
      `Key Vault certificate "${f.name}" (version ${latest(f.version)}) and its backing secret hold different certificates ` +
      `(secret's leaf SHA-256 thumbprint ${f.thumbprintSha256}). The secret was probably overwritten directly; re-import the certificate through Key Vault > Certificates so both parts match.`,
    details: (f) => ({ thumbprintSha256: f.thumbprintSha256, version: f.version }),
  },
  pendingIssuance: {
    code: "certificate_unreadable",
    message: (f) =>
      `Key Vault certificate "${f.name}" (version ${latest(f.version)}) in ${f.vaultUrl} has no issued certificate or key yet. It may still be pending issuance: check its Certificate Operation in Key Vault.`,
  },
  cerNotX509: {
    code: "certificate_unreadable",
    message: (f) => `The public certificate (cer) of Key Vault certificate "${f.name}" (version ${latest(f.version)}) in ${f.vaultUrl} is not valid X.509.`,
  },
  signatureDoesNotVerify: {
    code: "certificate_key_mismatch",
    message: (f) =>
      `Key Vault signed the client assertion with key ${f.keyId}, but the signature does not verify with the public key of certificate "${f.name}" ` +
      `(SHA-256 thumbprint ${f.thumbprintSha256}). The certificate and its key no longer belong together; create a new version of the certificate in Key Vault.`,
    details: (f) => ({ thumbprintSha256: f.thumbprintSha256 }),
  },
};

export function createCertificateError<F extends CertificateFailure>(failure: F, facts: CertificateFailureFacts[F]): UserSyncError {
  const entry = CertificateFailures[failure];
  return new UserSyncError(entry.code, entry.message(facts), { details: entry.details?.(facts) ?? {} });
}
