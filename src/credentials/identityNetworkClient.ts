/**
 * MSAL's network module (msal-common INetworkModule, `system.networkClient`): every request MSAL
 * sends — the OpenID metadata, instance discovery, the token request, the regional probe — goes
 * through Azure Core's pipeline with the identity bound (identityRequests.ts): a per-attempt
 * timeout, two retries with backoff on a timeout, a dropped connection or a 5xx, and the abort
 * signal of the identity wait under way (the run's). msal-node's own client sets no timeout on
 * these requests and cannot be aborted.
 *
 * The contract (msal-common NetworkResponse): `{ headers, body, status }` with lower-case header
 * names and the JSON body parsed, whatever the status; MSAL reads errors from the body. A body
 * that is not JSON is a network error for MSAL (as msal-node's HttpClient: token_parsing_error).
 */
import { createEmptyPipeline, createHttpHeaders, createPipelineRequest, type HttpClient, type Pipeline } from "@azure/core-rest-pipeline";
import { AuthError, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from "@azure/msal-node";
import { currentIdentityAbortSignal, identityHttpClient, identityRetryPolicy } from "./identityRequests.js";

export class IdentityNetworkClient implements INetworkModule {
  readonly #pipeline: Pipeline;
  readonly #httpClient: HttpClient;
  readonly #timeoutInMs: number;

  constructor(timeoutInMs: number, inner?: HttpClient) {
    this.#timeoutInMs = timeoutInMs;
    this.#httpClient = identityHttpClient(timeoutInMs, inner);
    this.#pipeline = createEmptyPipeline();
    this.#pipeline.addPolicy(identityRetryPolicy());
  }

  /** `timeout`: MSAL's own bound for this request (the regional probe): one attempt, no retries. */
  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.#send<T>("GET", url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.#send<T>("POST", url, options);
  }

  async #send<T>(method: "GET" | "POST", url: string, options: NetworkRequestOptions | undefined, timeout?: number): Promise<NetworkResponse<T>> {
    const abortSignal = currentIdentityAbortSignal();
    const request = createPipelineRequest({
      url,
      method,
      headers: createHttpHeaders(options?.headers ?? {}),
      ...(method === "POST" ? { body: options?.body ?? "" } : {}),
      // MSAL sends plain http only to the instance metadata service (the regional probe, 169.254.169.254).
      allowInsecureConnection: new URL(url).protocol === "http:",
      abortSignal,
    });
    const response =
      timeout !== undefined && timeout > 0
        ? await identityHttpClient(Math.min(timeout, this.#timeoutInMs)).sendRequest(request)
        : await this.#pipeline.sendRequest(this.#httpClient, request);
    let body: unknown;
    try {
      body = JSON.parse(response.bodyAsText ?? "");
    } catch {
      throw new AuthError("token_parsing_error", `The answer of ${new URL(url).host} (HTTP ${response.status}) is not JSON.`);
    }
    return { headers: response.headers.toJSON(), body: body as T, status: response.status };
  }
}
