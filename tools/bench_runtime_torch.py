#!/usr/bin/python3
"""PyTorch reference timings for bench/runtime.ts (npm run bench -- runtime).

One process serves the whole bench, one JSON line at a time, so that rounds of the reference alternate
with rounds of ours (bench/lib/timing.ts) and machine load falls on both alike:
    stdin  line 1:    {"threads": 2}
    stdout line 1:    {"torch": "1.13.0", "threads": 2}   or {"unavailable": "<why>"} (then exit status 3)
    stdin  per round: {"case": {"metric": .., "op": "conv" | "matmul" | "attention", <shapes>},
                       "plan": {"warmupRuns": .., "minRuns": .., "maxRuns": .., "minSeconds": ..}}
    stdout per round: {"metric": .., "times_ms": [..]}   or {"error": "<why>"}
It exits at the end of stdin. Progress goes to stderr. Data for a case is made once, on its first round.

The round loop is the one of bench/lib/timing.ts: warm-up runs, then timed runs until both minRuns and
minSeconds are reached (or maxRuns). The attention case is written as the graph IR writes it,
softmax((q * scale) @ k^T) @ v, since torch 1.13 has no fused scaled_dot_product_attention.
"""
import contextlib
import json
import sys
import time


def time_round(run, plan):
    for _ in range(plan["warmupRuns"]):
        run()
    times = []
    spent = 0.0
    while len(times) < plan["maxRuns"] and (len(times) < plan["minRuns"] or spent < plan["minSeconds"]):
        t0 = time.perf_counter()
        run()
        dt = time.perf_counter() - t0
        times.append(dt * 1000)
        spent += dt
    return times


def make_run(torch, case, gen):
    def randu(shape):
        return torch.rand(shape, generator=gen) * 2 - 1

    op = case["op"]
    if op == "conv":
        x, w = randu(case["input"]), randu(case["weight"])
        conv = {3: torch.nn.functional.conv1d, 4: torch.nn.functional.conv2d, 5: torch.nn.functional.conv3d}[len(case["weight"])]
        padding = tuple(case["padding"])
        return lambda: conv(x, w, None, padding=padding)
    if op == "matmul":
        a, b = randu(case["a"]), randu(case["b"])
        return lambda: torch.matmul(a, b)
    if op == "attention":
        q, k, v = randu(case["q"]), randu(case["k"]), randu(case["v"])
        scale = case["scale"]
        return lambda: torch.matmul(torch.softmax(torch.matmul(q * scale, k.transpose(-2, -1)), dim=-1), v)
    raise ValueError(f"unknown op {op!r}")


def reply(obj):
    print(json.dumps(obj), flush=True)


def serve(make_run, inference):
    """The line protocol (module docstring) over stdin and stdout: make_run(torch, case, gen) returns a
    case's run function, made on its first round after seeding torch; `inference` runs both in
    torch.inference_mode(). Returns the exit status."""
    config = json.loads(sys.stdin.readline())
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install failing while it loads
        reply({"unavailable": f"import torch failed: {e}"})
        return 3
    torch.set_num_threads(config["threads"])
    gen = torch.Generator().manual_seed(0)
    reply({"torch": torch.__version__, "threads": torch.get_num_threads()})
    runs = {}
    for line in sys.stdin:
        request = json.loads(line)
        case = request["case"]
        metric = case.get("metric")
        try:
            with torch.inference_mode() if inference else contextlib.nullcontext():
                if metric not in runs:
                    torch.manual_seed(0)
                    runs[metric] = make_run(torch, case, gen)
                reply({"metric": metric, "times_ms": time_round(runs[metric], request["plan"])})
        except Exception as e:
            reply({"error": f"{type(e).__name__}: {e}"})
    return 0


if __name__ == "__main__":
    sys.exit(serve(make_run, inference=True))
