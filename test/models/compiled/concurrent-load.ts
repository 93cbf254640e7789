// A child of the concurrency test in cache.test.ts: loads the tiny UNet through the cache folder argv[2]
// once the parent writes a line to stdin (so that every child builds at the same time), runs it, and
// prints { hit, key, eps } as JSON. Any failure exits non-zero with the error on stderr.

import { loadCompiledModel } from "../../../src/models/compiled/index.js";
import { FEEDS, WEIGHTS, builder, spec } from "./tiny-unet.js";

const cacheDir = process.argv[2]!;
process.stdout.write("ready\n");
await new Promise<void>((go) => process.stdin.once("data", () => go()));
process.stdin.pause();
const r = await loadCompiledModel(spec(), WEIGHTS, builder({ height: "H", width: "W" }).build, { cacheDir, weightsId: "hashed seed 3", session: { threads: 1 } });
try {
  const eps = Array.from((await r.session.run(FEEDS)).eps!.data as Float32Array);
  process.stdout.write(`${JSON.stringify({ hit: r.hit, key: r.key, eps })}\n`);
} finally {
  await r.session.release();
}
