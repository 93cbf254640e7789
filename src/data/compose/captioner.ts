// Captions from a captioning service (VIDRD.md section 4: "a captioning model / LLM that writes a sentence
// per clip"): any OpenAI-compatible chat-completions endpoint that takes images. One request per clip: the
// instruction (with the clip's class label as a hint when there is one) and a few of its frames as PNG
// data URLs; the answer's first line is the caption.
//
// Requests run concurrently up to `concurrency`; 429, 408, 5xx, network errors and timeouts are retried with
// exponential backoff (baseDelayMs * 2^attempt, capped at maxDelayMs; a Retry-After header, in seconds or
// as a date, is waited instead); answers are cached on disk (caption-cache.ts). 401 and 403 mean the
// credentials are wrong, which no retry fixes: the captioner fails that request and every later one with a
// CaptionerAuthError, so the run stops instead of burning through the dataset. Other failures reject the
// one clip with a CaptionerError.

import { encodePng } from "../../media/image.js";
import type { RgbFrame } from "../../media/frame.js";
import { CaptionCache, captionKey } from "./caption-cache.js";

export const DEFAULT_CAPTION_PROMPT =
  "These images are frames, in order, from one short video clip. Write a single sentence of at most 25 words that describes what is shown and what happens, as a caption for training a text-to-video model. Answer with the caption only.";

export interface CaptionerOptions {
  /** The endpoint: a base URL ("https://host/v1"; "/chat/completions" is appended) or the full path. */
  url: string;
  model: string;
  /** Sent as "Authorization: Bearer <key>" when given. */
  apiKey?: string;
  /** The instruction; default DEFAULT_CAPTION_PROMPT. */
  prompt?: string;
  /** Requests in flight at most; default 4. */
  concurrency?: number;
  /** Retries of one request after the first try; default 5. */
  maxRetries?: number;
  /** Default 500 and 30000. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per request; default 60000. */
  timeoutMs?: number;
  /** Default 80. */
  maxTokens?: number;
  /** Where answers are cached; null: no cache. */
  cacheDir: string | null;
}

export class CaptionerError extends Error {
  override name = "CaptionerError";
}

/** The service refused the credentials (401, 403): the run must stop. */
export class CaptionerAuthError extends CaptionerError {
  override name = "CaptionerAuthError";
}

export interface CaptionRequest {
  /** The class label, given to the model as a hint. */
  label?: string;
  signal?: AbortSignal;
}

export interface CaptionerStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  retries: number;
  cacheHits: number;
  captions: number;
}

/** The endpoint for `url`: "/chat/completions" appended unless it is there. */
export function chatCompletionsUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CaptionerError(`captioner url is ${JSON.stringify(url)}; allowed: an http(s) URL such as https://api.example.com/v1`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new CaptionerError(`captioner url ${url} uses ${parsed.protocol}; allowed: http or https`);
  return /\/chat\/completions\/?$/.test(parsed.pathname) ? url : `${url.replace(/\/+$/, "")}/chat/completions`;
}

/** Retry-After in ms: delta-seconds or an HTTP date (RFC 9110 section 10.2.3); null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (header === null || header.trim() === "") return null;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The first non-empty line of the answer, without surrounding quotes or a "Caption:" prefix. */
export function cleanCaption(text: string): string {
  const line = text.split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "";
  return line.replace(/^caption\s*:\s*/i, "").replace(/^["'“”]+|["'“”]+$/g, "").replace(/\s+/g, " ").trim();
}

function messageText(body: unknown): string | null {
  const content = (body as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof (p as { text?: unknown })?.text === "string" ? (p as { text: string }).text : "")).join("");
  return null;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** At most `limit` tasks at once, started in call order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function positiveInteger(name: string, value: number | undefined, fallback: number, min = 1, max?: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || (max !== undefined && v > max)) {
    throw new CaptionerError(`captioner.${name} is ${String(value)}; allowed: ${max === undefined ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`}`);
  }
  return v;
}

/** The longest a timer waits (setTimeout fires at once beyond it). */
const MAX_TIMER_MS = 2_147_483_647;

/** At most 200 characters of a body, on one line. */
function excerptOf(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, 200);
}

export class Captioner {
  readonly endpoint: string;
  readonly model: string;
  /** Requests in flight at most. */
  readonly concurrency: number;
  readonly stats: CaptionerStats = { requests: 0, retries: 0, cacheHits: 0, captions: 0 };
  private readonly prompt: string;
  private readonly limiter: Limiter;
  private readonly cache: CaptionCache | null;
  private readonly retries: number;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly timeout: number;
  private readonly maxTokens: number;
  /** Set by a 401/403: every later call fails with it, without a request. */
  private authFailure: CaptionerAuthError | null = null;

  constructor(private readonly options: CaptionerOptions) {
    this.endpoint = chatCompletionsUrl(options.url);
    if (typeof options.model !== "string" || options.model.trim() === "") throw new CaptionerError(`captioner.model is ${JSON.stringify(options.model)}; allowed: the service's model name`);
    this.model = options.model;
    this.prompt = options.prompt ?? DEFAULT_CAPTION_PROMPT;
    this.concurrency = positiveInteger("concurrency", options.concurrency, 4);
    this.limiter = new Limiter(this.concurrency);
    this.retries = positiveInteger("maxRetries", options.maxRetries, 5, 0);
    this.baseDelay = positiveInteger("baseDelayMs", options.baseDelayMs, 500, 0, MAX_TIMER_MS);
    this.maxDelay = positiveInteger("maxDelayMs", options.maxDelayMs, 30_000, 0, MAX_TIMER_MS);
    this.timeout = positiveInteger("timeoutMs", options.timeoutMs, 60_000, 1, MAX_TIMER_MS);
    this.maxTokens = positiveInteger("maxTokens", options.maxTokens, 80);
    this.cache = options.cacheDir === null ? null : new CaptionCache(options.cacheDir);
  }

  /** The model and instruction: what decides a caption besides the frames and the label. */
  get identity(): string {
    return `${this.model}\n${this.prompt}`;
  }

  /** What the model is asked for a clip with this label. */
  promptFor(label: string | undefined): string {
    return label === undefined || label === "" ? this.prompt : `${this.prompt} The clip's action class is "${label}".`;
  }

  /** A caption for the clip whose frames (a few, in order) are given. */
  async caption(frames: readonly RgbFrame[], request: CaptionRequest = {}): Promise<string> {
    if (this.authFailure) throw this.authFailure;
    if (frames.length === 0) throw new CaptionerError("caption: no frames; allowed: at least one");
    const prompt = this.promptFor(request.label);
    const key = captionKey(this.model, prompt, frames);
    const cached = this.cache?.get(key) ?? null;
    if (cached !== null) {
      this.stats.cacheHits++;
      return cached;
    }
    const images = await Promise.all(frames.map(async (f) => `data:image/png;base64,${(await encodePng(f)).toString("base64")}`));
    const caption = await this.limiter.run(() => this.ask(prompt, images, request.signal));
    this.cache?.put(key, caption, this.model);
    this.stats.captions++;
    return caption;
  }

  private async ask(prompt: string, images: readonly string[], signal: AbortSignal | undefined): Promise<string> {
    const body = JSON.stringify({
      model: this.model,
      messages: [{ role: "user", content: [{ type: "text", text: prompt }, ...images.map((url) => ({ type: "image_url", image_url: { url } }))] }],
      max_tokens: this.maxTokens,
      temperature: 0,
    });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let lastError = "";
    for (let attempt = 0; ; attempt++) {
      if (this.authFailure) throw this.authFailure;
      if (attempt > 0) this.stats.retries++;
      this.stats.requests++;
      let wait: number | null = null;
      try {
        const timeout = AbortSignal.timeout(this.timeout);
        const response = await fetch(this.endpoint, { method: "POST", headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
        const text = await response.text();
        if (response.ok) return this.captionFrom(text);
        const excerpt = excerptOf(text);
        if (response.status === 401 || response.status === 403) {
          this.authFailure = new CaptionerAuthError(`captioning service ${this.endpoint} refused the credentials (HTTP ${response.status}${excerpt ? `: ${excerpt}` : ""}); check the API key`);
          throw this.authFailure;
        }
        if (response.status !== 429 && response.status !== 408 && response.status < 500) {
          throw new CaptionerError(`captioning service ${this.endpoint} answered HTTP ${response.status}${excerpt ? `: ${excerpt}` : ""}`);
        }
        lastError = `HTTP ${response.status}`;
        wait = retryAfterMs(response.headers.get("retry-after"), Date.now());
      } catch (e) {
        if (e instanceof CaptionerError) throw e;
        if (signal?.aborted) throw signal.reason;
        // fetch rejects with a TypeError for network failures, a TimeoutError for the timeout
        lastError = `${(e as Error).name}: ${(e as Error).message}${(e as { cause?: { code?: string } }).cause?.code ? ` (${(e as { cause: { code: string } }).cause.code})` : ""}`;
      }
      if (attempt >= this.retries) {
        throw new CaptionerError(`captioning service ${this.endpoint} failed ${attempt + 1} times; last: ${lastError}`);
      }
      await sleep(Math.min(this.maxDelay, wait ?? this.baseDelay * 2 ** attempt), signal);
    }
  }

  private captionFrom(text: string): string {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CaptionerError(`captioning service ${this.endpoint} answered with non-JSON: ${excerptOf(text) || "an empty body"}`);
    }
    const content = messageText(body);
    if (content === null) throw new CaptionerError(`captioning service ${this.endpoint} answered without choices[0].message.content: ${excerptOf(text)}`);
    const caption = cleanCaption(content);
    if (caption === "") throw new CaptionerError(`captioning service ${this.endpoint} answered with an empty caption`);
    return caption;
  }
}
