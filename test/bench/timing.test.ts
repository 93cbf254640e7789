// bench/lib/timing.ts: rounds of ours alternate with rounds of the reference, and a reference that is
// absent or fails is reported by its reason while ours keeps all its rounds.

import { test } from "node:test";
import assert from "node:assert/strict";
import { type RoundPlan, type TimingPlan, alternateRounds } from "../../bench/lib/timing.js";

const PLAN: TimingPlan = { rounds: 3, firstWarmupRuns: 2, round: { minRuns: 2, maxRuns: 2, minSeconds: 0 } };

test("rounds alternate, the reference first; the first round warms up longer", async () => {
  const events: string[] = [];
  const plans: RoundPlan[] = [];
  const { ours, reference } = await alternateRounds(
    PLAN,
    async () => events.push("ours"),
    async (plan) => {
      plans.push(plan);
      events.push("reference");
      return [10 * plans.length, 10 * plans.length + 1];
    },
  );
  // per round: the reference's reply, then ours (warm-up runs + 2 timed runs)
  assert.deepEqual(events, ["reference", ...Array(4).fill("ours"), "reference", ...Array(3).fill("ours"), "reference", ...Array(3).fill("ours")]);
  assert.deepEqual(plans.map((p) => p.warmupRuns), [2, 1, 1]);
  assert.equal(ours.runs, 6);
  assert.ok(typeof reference !== "string");
  assert.equal(reference.runs, 6);
  assert.equal(reference.medianMs, 20.5); // median of 10, 11, 20, 21, 30, 31
});

test("a reference that fails in a round is not asked again and is reported by its reason", async () => {
  let asked = 0;
  const result = await alternateRounds(PLAN, async () => {}, async () => (++asked === 2 ? "pytorch reference failed on m: boom" : [1]));
  assert.equal(asked, 2);
  assert.equal(result.reference, "pytorch reference failed on m: boom");
  assert.equal(result.ours.runs, 6);
});

test("an absent reference is passed through", async () => {
  const result = await alternateRounds(PLAN, async () => {}, "pytorch not importable");
  assert.equal(result.reference, "pytorch not importable");
  assert.equal(result.ours.runs, 6);
});
