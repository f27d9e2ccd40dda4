import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  createCertificateAuthority,
  issueCertificate,
  toPemBundle,
  toPkcs12Base64,
  type GeneratedCertificate,
} from "../../../tools/simulated-tenant/pki.js";
import { parseKeyVaultCertificateSecret } from "../../../src/credentials/clientCertificate.js";

const directory = mkdtempSync(join(tmpdir(), "pki-test-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Runs openssl; returns stdout and stderr together (pkcs12 -info writes the MAC line to stderr). */
function openssl(args: string[]): string {
  const result = spawnSync("/usr/bin/openssl", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  return `${result.stdout}\n${result.stderr}`;
}

function writeTemp(name: string, content: string | Buffer): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}

function sameKey(certificate: GeneratedCertificate): boolean {
  const fromCertificate = new X509Certificate(certificate.certificatePem).publicKey.export({ type: "spki", format: "der" });
  const fromKey = createPublicKey(createPrivateKey(certificate.privateKeyPem)).export({ type: "spki", format: "der" });
  return Buffer.compare(fromCertificate, fromKey) === 0;
}

describe("pki", () => {
  const ca = createCertificateAuthority({ commonName: "Simulated Root CA" });
  const server = issueCertificate({
    commonName: "localhost",
    issuer: ca,
    subjectAltNames: { dns: ["localhost"], ip: ["127.0.0.1", "::1"] },
  });

  it("creates a self-signed CA that can sign", () => {
    const x509 = new X509Certificate(ca.certificatePem);
    expect(x509.ca).toBe(true);
    expect(x509.subject).toBe("CN=Simulated Root CA");
    expect(x509.issuer).toBe("CN=Simulated Root CA");
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(ca.privateKeyPem).toContain("-----BEGIN PRIVATE KEY-----");
    expect(sameKey(ca)).toBe(true);
  });

  it("issues a leaf signed by the CA, with the alt names, usable for TLS", () => {
    const x509 = new X509Certificate(server.certificatePem);
    expect(x509.ca).toBe(false);
    expect(x509.issuer).toBe("CN=Simulated Root CA");
    expect(x509.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(x509.checkHost("localhost")).toBe("localhost");
    expect(x509.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(x509.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect(sameKey(server)).toBe(true);
    const caPath = writeTemp("ca.pem", ca.certificatePem);
    const leafPath = writeTemp("leaf.pem", server.certificatePem);
    expect(openssl(["verify", "-CAfile", caPath, "-purpose", "sslserver", leafPath])).toContain("OK");
  });

  it("honours explicit validity dates and reports them", () => {
    const notBefore = new Date("2020-01-01T00:00:00Z");
    const notAfter = new Date("2021-01-01T00:00:00Z");
    const old = issueCertificate({ commonName: "expired", notBefore, notAfter });
    expect(old.notBefore.toISOString()).toBe(notBefore.toISOString());
    expect(old.notAfter.toISOString()).toBe(notAfter.toISOString());
    expect(old.subject).toBe("CN=expired");
  });

  it("reports the same thumbprints as openssl", () => {
    const path = writeTemp("thumb.pem", server.certificatePem);
    const sha256 = openssl(["x509", "-in", path, "-noout", "-fingerprint", "-sha256"]);
    const sha1 = openssl(["x509", "-in", path, "-noout", "-fingerprint", "-sha1"]);
    expect(sha256.split("=")[1]!.trim().replaceAll(":", "").toLowerCase()).toBe(server.thumbprintSha256Hex);
    expect(sha1.split("=")[1]!.trim().replaceAll(":", "").toLowerCase()).toBe(server.thumbprintSha1Hex);
    expect(Buffer.from(server.certificateDerBase64, "base64").equals(new X509Certificate(server.certificatePem).raw)).toBe(true);
  });

  it("writes legacy PKCS#12 (3DES key, RC2-40 certificates, SHA-1 MAC) with an empty password", () => {
    const p12 = toPkcs12Base64({ privateKeyPem: server.privateKeyPem, chainPem: [server.certificatePem, ca.certificatePem], encryption: "legacy-3des" });
    const path = writeTemp("legacy.p12", Buffer.from(p12, "base64"));
    const info = openssl(["pkcs12", "-info", "-nokeys", "-legacy", "-passin", "pass:", "-in", path]);
    expect(info).toContain("MAC: sha1");
    expect(info).toContain("pbeWithSHA1And40BitRC2-CBC");
    expect(info).toContain("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC");
    expect(info.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);

    const parsed = parseKeyVaultCertificateSecret({ value: p12, contentType: "application/x-pkcs12" });
    expect(parsed.thumbprintSha256).toBe(server.thumbprintSha256Hex);
    expect(parsed.x5c).toEqual([server.certificateDerBase64, ca.certificateDerBase64]);
  });

  it("writes OpenSSL 3 default PKCS#12 (PBES2, AES-256-CBC, SHA-256 MAC)", () => {
    const p12 = toPkcs12Base64({ privateKeyPem: server.privateKeyPem, chainPem: [server.certificatePem, ca.certificatePem], encryption: "aes256" });
    const path = writeTemp("aes.p12", Buffer.from(p12, "base64"));
    const info = openssl(["pkcs12", "-info", "-nokeys", "-passin", "pass:", "-in", path]);
    expect(info).toContain("MAC: sha256");
    expect(info).toContain("PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC");
    expect(info).toContain("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC");
    expect(info).toContain("PRF hmacWithSHA256");

    const parsed = parseKeyVaultCertificateSecret({ value: p12, contentType: "application/x-pkcs12" });
    expect(parsed.thumbprintSha256).toBe(server.thumbprintSha256Hex);
    expect(parsed.x5c).toEqual([server.certificateDerBase64, ca.certificateDerBase64]);
  });

  it("uses the given password", () => {
    const p12 = toPkcs12Base64({ privateKeyPem: server.privateKeyPem, chainPem: [server.certificatePem], encryption: "aes256", password: "s3cret" });
    const path = writeTemp("password.p12", Buffer.from(p12, "base64"));
    expect(() => openssl(["pkcs12", "-info", "-nokeys", "-passin", "pass:", "-in", path])).toThrow();
    expect(openssl(["pkcs12", "-info", "-nokeys", "-passin", "pass:s3cret", "-in", path])).toContain("BEGIN CERTIFICATE");
  });

  it("writes PEM bundles in the requested order and key format", () => {
    const keyFirst = toPemBundle({ privateKeyPem: server.privateKeyPem, chainPem: [server.certificatePem, ca.certificatePem] });
    expect(keyFirst.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
    expect(keyFirst.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);

    const keyLast = toPemBundle({ privateKeyPem: server.privateKeyPem, chainPem: [ca.certificatePem, server.certificatePem], keyFormat: "pkcs1", keyFirst: false });
    expect(keyLast.indexOf("BEGIN RSA PRIVATE KEY")).toBeGreaterThan(keyLast.lastIndexOf("END CERTIFICATE"));
    expect(keyLast.indexOf(ca.certificatePem.trim())).toBeLessThan(keyLast.indexOf(server.certificatePem.trim()));

    const parsed = parseKeyVaultCertificateSecret({ value: keyLast, contentType: "application/x-pem-file" });
    expect(parsed.x5c).toEqual([server.certificateDerBase64, ca.certificateDerBase64]);
  });
});
