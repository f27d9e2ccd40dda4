/**
 * The check of an identity-based service URI setting (USER_SYNC_QUEUE__queueServiceUri,
 * USER_SYNC_EXPORT_STORAGE__blobServiceUri): a plain https URL, since an identity-based connection
 * never sends a token over http, and a query (a SAS) has no place in it.
 */

/** True for a plain https URL without a query string. */
export function isPlainHttpsUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === "https:" && !url.search;
}
