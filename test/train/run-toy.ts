// Child-process driver for the kill / SIGINT tests: trains the toy model and prints "step <n>" after
// each step, then "done <status> <step>".
//   node --import tsx test/train/run-toy.ts <dir> <steps> <every> [--pause-after N] [--delay-ms D] [--sigint]
// --pause-after N: after step N, hang (for a kill -9); --delay-ms D: sleep D ms after each step;
// --sigint: handle SIGINT (stop after the current step with a checkpoint); --other-sigint-listener: also
// listen for SIGINT elsewhere in the process (printing "other listener" to stdout).

import { Trainer } from "../../src/train/index.js";
import { toyBatch, toyConfig, toyModel, toyWeights } from "./toy.js";

const [dir, steps, every, ...rest] = process.argv.slice(2);
const flag = (name: string): number | null => {
  const i = rest.indexOf(name);
  return i >= 0 ? Number(rest[i + 1]) : null;
};
const pauseAfter = flag("--pause-after");
const delayMs = flag("--delay-ms") ?? 0;

if (rest.includes("--other-sigint-listener")) process.on("SIGINT", () => void process.stdout.write("other listener\n"));

const trainer = new Trainer({
  model: (g) => toyModel(g),
  weights: toyWeights(),
  data: (ctx) => toyBatch(ctx),
  // stderr is a pipe here: plain progress lines (and the interrupt notice)
  config: { ...toyConfig(dir!, Number(steps), Number(every)), log: { progress: "lines", every: 5 } },
  handleSigint: rest.includes("--sigint"),
  onStep: async (r) => {
    process.stdout.write(`step ${r.step}\n`);
    if (r.step === pauseAfter) await new Promise(() => setInterval(() => {}, 1000));
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
  },
});
const result = await trainer.run();
process.stdout.write(`done ${result.status} ${result.step}\n`);
