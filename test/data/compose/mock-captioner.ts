// A local OpenAI-compatible chat-completions server for the captioning tests: answers per a script,
// records every request and how many were in flight at once.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  path: string;
  authorization: string | undefined;
  body: { model: string; messages: { role: string; content: { type: string; text?: string; image_url?: { url: string } }[] }[]; max_tokens: number };
}

export type Reply = { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number };

export class MockCaptioner {
  readonly requests: RecordedRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private server: Server | null = null;

  /** `reply(request, n)`: the answer to the n-th request (0-based). */
  constructor(private readonly reply: (request: RecordedRequest, n: number) => Reply) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const request: RecordedRequest = { path: req.url ?? "", authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
    const n = this.requests.length;
    this.requests.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const r = this.reply(request, n);
    if (r.delayMs) await new Promise((ok) => setTimeout(ok, r.delayMs));
    this.inFlight--;
    res.writeHead(r.status, { "content-type": "application/json", ...(r.headers ?? {}) });
    res.end(r.body === undefined ? "" : JSON.stringify(r.body));
  }
}

/** A chat-completions answer with `text` as the message. */
export function completion(text: string): unknown {
  return { id: "x", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }] };
}
