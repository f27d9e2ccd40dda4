import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseKeyVaultCertificateSecret, type ClientCertificate } from "../../src/credentials/clientCertificate.js";
import { UserSyncError } from "../../src/shared/errors.js";
import { createCertificateAuthority, issueCertificate, toPemBundle, toPkcs12Base64 } from "../../tools/simulated-tenant/pki.js";

const PKCS12 = "application/x-pkcs12";
const PEM = "application/x-pem-file";
const DAY = 24 * 60 * 60 * 1000;

const directory = mkdtempSync(join(tmpdir(), "client-certificate-test-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function openssl(args: string[]): string {
  const result = spawnSync("/usr/bin/openssl", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  return result.stdout;
}

const root = createCertificateAuthority({ commonName: "Contoso Root CA" });
const intermediate = issueCertificate({ commonName: "Contoso Issuing CA", issuer: root, isCa: true });
const leaf = issueCertificate({ commonName: "entra-user-sync", issuer: intermediate });
const selfSigned = issueCertificate({ commonName: "entra-user-sync-self-signed" });

/** Runs parse and returns the UserSyncError it throws, failing the test when it does not throw one. */
function parseError(secret: { value: string; contentType?: string }, now?: Date): UserSyncError {
  try {
    parseKeyVaultCertificateSecret(secret, now ? { now } : {});
  } catch (error) {
    expect(error).toBeInstanceOf(UserSyncError);
    const userSyncError = error as UserSyncError;
    // Never key material in a message.
    expect(userSyncError.message).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(userSyncError.message).not.toContain(leaf.privateKeyPem.split("\n")[1]!.slice(0, 20));
    return userSyncError;
  }
  throw new Error("expected parseKeyVaultCertificateSecret to throw");
}

function expectLeafWithChain(parsed: ClientCertificate): void {
  expect(parsed.thumbprintSha256).toBe(leaf.thumbprintSha256Hex);
  expect(parsed.x5c).toEqual([leaf.certificateDerBase64, intermediate.certificateDerBase64, root.certificateDerBase64]);
  expect(parsed.subject).toBe("CN=entra-user-sync");
  expect(parsed.issuer).toBe("CN=Contoso Issuing CA");
  expect(parsed.privateKeyPem.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
  expect(parsed.notAfter.toISOString()).toBe(leaf.notAfter.toISOString());
  expect(parsed.notBefore.toISOString()).toBe(leaf.notBefore.toISOString());
}

describe("parseKeyVaultCertificateSecret: PKCS#12", () => {
  it("reads legacy PKCS#12 (3DES/RC2-40/SHA-1 MAC) as Key Vault writes it", () => {
    const value = toPkcs12Base64({ privateKeyPem: leaf.privateKeyPem, chainPem: [leaf.certificatePem, intermediate.certificatePem, root.certificatePem], encryption: "legacy-3des" });
    expectLeafWithChain(parseKeyVaultCertificateSecret({ value, contentType: PKCS12 }));
  });

  it("reads OpenSSL 3 PKCS#12 (PBES2/AES-256/SHA-256 MAC) and orders the chain leaf first", () => {
    // Stored as leaf, root, intermediate: x5c must still be leaf, intermediate, root.
    const value = toPkcs12Base64({ privateKeyPem: leaf.privateKeyPem, chainPem: [leaf.certificatePem, root.certificatePem, intermediate.certificatePem], encryption: "aes256" });
    expectLeafWithChain(parseKeyVaultCertificateSecret({ value, contentType: PKCS12 }));
  });

  it("reads base64 with line breaks and a content type with parameters", () => {
    const value = toPkcs12Base64({ privateKeyPem: selfSigned.privateKeyPem, chainPem: [selfSigned.certificatePem], encryption: "legacy-3des" });
    const wrapped = value.match(/.{1,76}/g)!.join("\r\n");
    const parsed = parseKeyVaultCertificateSecret({ value: wrapped, contentType: "Application/X-PKCS12; charset=binary" });
    expect(parsed.x5c).toEqual([selfSigned.certificateDerBase64]);
    expect(parsed.issuer).toBe("CN=entra-user-sync-self-signed");
  });

  it("reports a PKCS#12 without a private key, explaining exportable keys", () => {
    const certificatePath = join(directory, "nokey.pem");
    const outputPath = join(directory, "nokey.p12");
    writeFileSync(certificatePath, selfSigned.certificatePem);
    openssl(["pkcs12", "-export", "-nokeys", "-in", certificatePath, "-out", outputPath, "-passout", "pass:"]);
    const error = parseError({ value: readFileSync(outputPath).toString("base64"), contentType: PKCS12 });
    expect(error.code).toBe("certificate_no_private_key");
    expect(error.message).toContain("exportable");
  });

  it("reports a password-protected PKCS#12 as unreadable, mentioning the password", () => {
    const value = toPkcs12Base64({ privateKeyPem: selfSigned.privateKeyPem, chainPem: [selfSigned.certificatePem], encryption: "aes256", password: "hunter2" });
    const error = parseError({ value, contentType: PKCS12 });
    expect(error.code).toBe("certificate_unreadable");
    expect(error.message).toContain("password");
    expect(error.message).not.toContain("hunter2");
  });

  it("reports garbage as unreadable", () => {
    expect(parseError({ value: "this is not base64 at all!", contentType: PKCS12 }).code).toBe("certificate_unreadable");
    expect(parseError({ value: randomBytes(600).toString("base64"), contentType: PKCS12 }).code).toBe("certificate_unreadable");
    expect(parseError({ value: "", contentType: PKCS12 }).code).toBe("certificate_unreadable");
  });
});

describe("parseKeyVaultCertificateSecret: PEM", () => {
  it("reads key first, leaf first", () => {
    const value = toPemBundle({ privateKeyPem: leaf.privateKeyPem, chainPem: [leaf.certificatePem, intermediate.certificatePem, root.certificatePem] });
    expectLeafWithChain(parseKeyVaultCertificateSecret({ value, contentType: PEM }));
  });

  it("reads key last, leaf last (chain root first)", () => {
    const value = toPemBundle({ privateKeyPem: leaf.privateKeyPem, chainPem: [root.certificatePem, intermediate.certificatePem, leaf.certificatePem], keyFirst: false });
    expectLeafWithChain(parseKeyVaultCertificateSecret({ value, contentType: PEM }));
  });

  it("reads a PKCS#1 (RSA PRIVATE KEY) key and returns it as PKCS#8", () => {
    const value = toPemBundle({ privateKeyPem: leaf.privateKeyPem, chainPem: [intermediate.certificatePem, leaf.certificatePem, root.certificatePem], keyFormat: "pkcs1" });
    expect(value).toContain("-----BEGIN RSA PRIVATE KEY-----");
    expectLeafWithChain(parseKeyVaultCertificateSecret({ value, contentType: PEM }));
  });

  it("reads CRLF line endings", () => {
    const value = toPemBundle({ privateKeyPem: selfSigned.privateKeyPem, chainPem: [selfSigned.certificatePem] }).replaceAll("\n", "\r\n");
    expect(parseKeyVaultCertificateSecret({ value, contentType: PEM }).thumbprintSha256).toBe(selfSigned.thumbprintSha256Hex);
  });

  it("has the thumbprint openssl reports", () => {
    const path = join(directory, "leaf.pem");
    writeFileSync(path, leaf.certificatePem);
    const fingerprint = openssl(["x509", "-in", path, "-noout", "-fingerprint", "-sha256"]).split("=")[1]!.trim().replaceAll(":", "").toLowerCase();
    const value = toPemBundle({ privateKeyPem: leaf.privateKeyPem, chainPem: [leaf.certificatePem] });
    expect(parseKeyVaultCertificateSecret({ value, contentType: PEM }).thumbprintSha256).toBe(fingerprint);
  });

  it("reports certificates without a key", () => {
    const error = parseError({ value: leaf.certificatePem + intermediate.certificatePem, contentType: PEM });
    expect(error.code).toBe("certificate_no_private_key");
    expect(error.message).toContain("CN=entra-user-sync");
    expect(error.message).toContain("exportable");
  });

  it("reports a key that matches none of the certificates", () => {
    const value = toPemBundle({ privateKeyPem: selfSigned.privateKeyPem, chainPem: [leaf.certificatePem, intermediate.certificatePem] });
    const error = parseError({ value, contentType: PEM });
    expect(error.code).toBe("certificate_key_mismatch");
    expect(error.message).toContain("CN=entra-user-sync");
  });

  it("reports a key without certificates as unreadable", () => {
    expect(parseError({ value: leaf.privateKeyPem, contentType: PEM }).code).toBe("certificate_unreadable");
  });

  it("reports garbage and encrypted keys as unreadable", () => {
    expect(parseError({ value: "hello", contentType: PEM }).code).toBe("certificate_unreadable");
    expect(parseError({ value: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", contentType: PEM }).code).toBe("certificate_unreadable");
    const encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n" + leaf.certificatePem;
    const error = parseError({ value: encrypted, contentType: PEM });
    expect(error.code).toBe("certificate_unreadable");
    expect(error.message).toContain("encrypted");
  });

  it("rejects an EC certificate, asking for RSA", () => {
    const keyPath = join(directory, "ec.key");
    const certificatePath = join(directory, "ec.pem");
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyPath, "-out", certificatePath, "-subj", "/CN=ec-client", "-days", "30"]);
    const value = readFileSync(keyPath, "utf8") + readFileSync(certificatePath, "utf8");
    const error = parseError({ value, contentType: PEM });
    expect(error.code).toBe("certificate_unreadable");
    expect(error.message).toContain("RSA");
  });
});

describe("parseKeyVaultCertificateSecret: validity", () => {
  const expired = issueCertificate({ commonName: "old", notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2021-01-01T00:00:00Z") });
  const future = issueCertificate({ commonName: "future", notBefore: new Date(Date.now() + 10 * DAY), notAfter: new Date(Date.now() + 400 * DAY) });

  it("reports an expired certificate with its date and how to renew it", () => {
    const error = parseError({ value: toPemBundle({ privateKeyPem: expired.privateKeyPem, chainPem: [expired.certificatePem] }), contentType: PEM });
    expect(error.code).toBe("certificate_expired");
    expect(error.message).toContain("2021-01-01T00:00:00.000Z");
    expect(error.message).toContain("New Version");
    expect(error.message).toContain(expired.thumbprintSha256Hex);
    expect(error.details.thumbprintSha256).toBe(expired.thumbprintSha256Hex);
  });

  it("reports a certificate that is not valid yet", () => {
    const error = parseError({ value: toPemBundle({ privateKeyPem: future.privateKeyPem, chainPem: [future.certificatePem] }), contentType: PEM });
    expect(error.code).toBe("certificate_not_yet_valid");
    expect(error.message).toContain(future.notBefore.toISOString());
  });

  it("checks validity against the given time", () => {
    const secret = { value: toPemBundle({ privateKeyPem: expired.privateKeyPem, chainPem: [expired.certificatePem] }), contentType: PEM };
    expect(parseKeyVaultCertificateSecret(secret, { now: new Date("2020-06-01T00:00:00Z") }).subject).toBe("CN=old");
    expect(parseError(secret, new Date("2019-06-01T00:00:00Z")).code).toBe("certificate_not_yet_valid");
  });
});

describe("parseKeyVaultCertificateSecret: unknown content type", () => {
  it("detects PEM and PKCS#12 when the content type is missing or unknown", () => {
    const pem = toPemBundle({ privateKeyPem: selfSigned.privateKeyPem, chainPem: [selfSigned.certificatePem] });
    const p12 = toPkcs12Base64({ privateKeyPem: selfSigned.privateKeyPem, chainPem: [selfSigned.certificatePem], encryption: "legacy-3des" });
    expect(parseKeyVaultCertificateSecret({ value: pem }).thumbprintSha256).toBe(selfSigned.thumbprintSha256Hex);
    expect(parseKeyVaultCertificateSecret({ value: p12, contentType: "application/octet-stream" }).thumbprintSha256).toBe(selfSigned.thumbprintSha256Hex);
  });

  it("names the expected content types when neither format fits", () => {
    const error = parseError({ value: "my-client-secret-value", contentType: "text/plain" });
    expect(error.code).toBe("certificate_unreadable");
    expect(error.message).toContain("text/plain");
    expect(error.message).toContain(PKCS12);
    expect(error.message).toContain(PEM);
  });

  it("keeps specific errors (no key) rather than hiding them behind 'unreadable'", () => {
    expect(parseError({ value: leaf.certificatePem }).code).toBe("certificate_no_private_key");
  });
});
