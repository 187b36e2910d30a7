/**
 * Who is calling: a sidecar presents its pod's projected ServiceAccount token (audience
 * `aicircuit.io`) and the API server's TokenReview says whose it is. For a bound token the
 * answer names the pod too, and the API server only vouches for it while that pod exists.
 *
 * Answers are cached by the token's sha256 (a minute at most, never past the token's own
 * expiry; rejections 5 s) so a thousand reconnecting sidecars do not become a thousand reviews,
 * and concurrent reviews of one token share one request. The token itself is never logged,
 * kept, or put in an error.
 */
import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { parseJsonObject } from '../../shared/json-object.ts';
import { describeKubeError, httpStatusOf } from './api-errors.ts';
import { silentLogger, type KubeLogger } from './kube-logger.ts';

/** The audience sidecar tokens are minted for (docs/controller.md). */
export const SIDECAR_TOKEN_AUDIENCE = 'aicircuit.io';

/** `status.user.extra` keys the API server sets for tokens bound to a pod. */
const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
/** Longer than any real JWT; refusing early keeps junk away from the API server. */
const MAX_TOKEN_LENGTH = 16_384;

/** A TokenReview as JSON (request and answer); plain data, not client-node's classes. */
export interface TokenReviewJson {
  apiVersion?: string;
  kind?: string;
  spec: { token?: string; audiences?: string[] };
  status?: {
    authenticated?: boolean;
    audiences?: string[];
    error?: string;
    user?: { username?: string; uid?: string; extra?: Record<string, string[] | undefined> };
  };
}

/** The TokenReview call; `AuthenticationV1Api` satisfies it. */
export interface TokenReviewApi {
  createTokenReview(param: { body: TokenReviewJson }): Promise<TokenReviewJson>;
}

/** A token the API server vouched for: a service account, and the pod for bound tokens. */
export interface AuthenticatedCaller {
  readonly authenticated: true;
  /** `system:serviceaccount:<namespace>:<serviceAccount>` */
  readonly username: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly podName?: string;
  readonly podUid?: string;
}

/**
 * A token that was not accepted. `retryable` is true when the review itself failed (API server
 * unreachable, throttled): answer 503, not 401, and do not remember it.
 */
export interface RejectedCaller {
  readonly authenticated: false;
  readonly reason: string;
  readonly retryable: boolean;
}

/** Outcome of one review. */
export type TokenReviewResult = AuthenticatedCaller | RejectedCaller;

/** Settings of the reviewer. */
export interface TokenReviewerOptions {
  readonly api: TokenReviewApi;
  /** Accepted audiences; the token must carry one. Default `['aicircuit.io']`. */
  readonly audiences?: readonly string[];
  /** Longest time an accepted token is trusted without asking again. Default 60 s. */
  readonly positiveTtlMs?: number;
  /** How long a rejection is remembered. Default 5 s. */
  readonly negativeTtlMs?: number;
  /** Cached answers kept at most (oldest dropped first). Default 10 000. */
  readonly maxEntries?: number;
  readonly clock?: Clock;
  readonly logger?: KubeLogger;
}

interface CacheEntry {
  readonly result: TokenReviewResult;
  /** Monotonic ms after which the entry is void. */
  readonly expiresMs: number;
}

/** Authenticates sidecar tokens with TokenReview; see the file comment. */
export class TokenReviewer {
  readonly #api: TokenReviewApi;
  readonly #audiences: readonly string[];
  readonly #positiveTtlMs: number;
  readonly #negativeTtlMs: number;
  readonly #maxEntries: number;
  readonly #clock: Clock;
  readonly #logger: KubeLogger;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<TokenReviewResult>>();
  #reviews = 0;

  constructor(options: TokenReviewerOptions) {
    this.#api = options.api;
    this.#audiences = options.audiences ?? [SIDECAR_TOKEN_AUDIENCE];
    if (this.#audiences.length === 0) {
      throw new RangeError('TokenReviewer: audiences must not be empty');
    }
    this.#positiveTtlMs = options.positiveTtlMs ?? 60_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /** TokenReview requests sent so far (cache hits excluded), for metrics and tests. */
  get reviews(): number {
    return this.#reviews;
  }

  /** Who the bearer of `token` is, from the cache or a TokenReview. Never rejects. */
  review(token: string): Promise<TokenReviewResult> {
    if (token === '') return Promise.resolve(rejected('empty token'));
    if (token.length > MAX_TOKEN_LENGTH) return Promise.resolve(rejected('token too long'));
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      if (cached.expiresMs > this.#clock.nowMs()) return Promise.resolve(cached.result);
      this.#cache.delete(key);
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const review = this.#review(token, key).finally(() => {
      this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, review);
    return review;
  }

  /** Forgets every cached answer (e.g. after RBAC changes). */
  clear(): void {
    this.#cache.clear();
  }

  async #review(token: string, key: string): Promise<TokenReviewResult> {
    this.#reviews += 1;
    let answer: TokenReviewJson;
    try {
      answer = await this.#api.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [...this.#audiences] },
        },
      });
    } catch (error) {
      const status = httpStatusOf(error);
      // Only the status and Status.reason: the request carried the token.
      this.#logger.warn({ status, err: describeKubeError(error) }, 'TokenReview request failed');
      return {
        authenticated: false,
        reason: `TokenReview unavailable (${status === undefined ? 'no answer' : `HTTP ${status}`})`,
        retryable: true,
      };
    }
    const result = this.#interpret(answer);
    if (result.authenticated) {
      const ttlMs = Math.min(this.#positiveTtlMs, tokenLifetimeLeftMs(token, this.#clock));
      if (ttlMs > 0) this.#remember(key, result, ttlMs);
    } else {
      this.#logger.info({ reason: result.reason }, 'token rejected');
      this.#remember(key, result, this.#negativeTtlMs);
    }
    return result;
  }

  #interpret(answer: TokenReviewJson): TokenReviewResult {
    const status = answer.status;
    if (status?.authenticated !== true) {
      // `status.error` explains it without quoting the token (e.g. wrong audience, expired).
      return rejected(status?.error ?? 'not authenticated');
    }
    const audiences = status.audiences ?? [];
    if (!this.#audiences.some((a) => audiences.includes(a))) {
      return rejected(`token audiences [${audiences.join(', ')}] not accepted`);
    }
    const username = status.user?.username ?? '';
    const parts = username.split(':');
    const [system, kind, namespace, serviceAccount] = parts;
    if (
      parts.length !== 4 ||
      system !== 'system' ||
      kind !== 'serviceaccount' ||
      namespace === undefined ||
      namespace === '' ||
      serviceAccount === undefined ||
      serviceAccount === ''
    ) {
      return rejected(`"${username}" is not a service account`);
    }
    const extra = status.user?.extra ?? {};
    const podName = extra[POD_NAME_EXTRA]?.[0];
    const podUid = extra[POD_UID_EXTRA]?.[0];
    return {
      authenticated: true,
      username,
      namespace,
      serviceAccount,
      ...(podName === undefined ? {} : { podName }),
      ...(podUid === undefined ? {} : { podUid }),
    };
  }

  #remember(key: string, result: TokenReviewResult, ttlMs: number): void {
    this.#cache.delete(key);
    this.#cache.set(key, { result, expiresMs: this.#clock.nowMs() + ttlMs });
    // Maps iterate in insertion order: the first key is the oldest entry.
    while (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done === true) break;
      this.#cache.delete(oldest.value);
    }
  }
}

function rejected(reason: string): RejectedCaller {
  return { authenticated: false, reason, retryable: false };
}

/**
 * Time until the JWT's `exp`, read without verifying (the API server verified it; this only
 * bounds the cache). Infinity when the token carries no readable `exp`.
 */
function tokenLifetimeLeftMs(token: string, clock: Clock): number {
  const payload = token.split('.')[1];
  if (payload === undefined) return Number.POSITIVE_INFINITY;
  const exp = parseJsonObject(Buffer.from(payload, 'base64url').toString('utf8'))?.exp;
  return typeof exp === 'number' ? exp * 1000 - clock.wallMs() : Number.POSITIVE_INFINITY;
}
