#!/usr/bin/python3
"""PyTorch reference for bench/unet.ts (npm run bench -- unet): the SD-2.1-base-sized UNet3D of
tools/reference/unet3d.py (the authors' architecture, float32, eval, no autograd) on random weights.

    /usr/bin/python3 tools/bench_unet_torch.py '{"variant": "vidrd", "batch": 2, "frames": 8, "size": 32,
                                                 "threads": 2, "warmup": 1, "runs": 2}'

stdout, one JSON line: {"torch": "1.13.0", "threads": 2, "build_s": .., "forward_s": [..], "peak_rss_mb": ..}
or {"unavailable": "<why>"} (exit status 3). Progress goes to stderr.

build_s: constructing the module with its storage allocated (PyTorch's counterpart of our graph build,
emission and session creation); the weights are then filled, untimed, with a seeded U(-0.02, 0.02), the
values bench/unet.ts gives its own model. forward_s: each timed forward. peak_rss_mb: the process's
maximum resident set (ru_maxrss), weights and activations included.
"""
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    sys.stderr.write(f"[bench_unet_torch] {msg}\n")


def main():
    opts = json.loads(sys.argv[1])
    try:
        import torch
    except Exception as e:  # noqa: BLE001  (any import failure means: no reference)
        print(json.dumps({"unavailable": f"pytorch not importable: {e}"}), flush=True)
        sys.exit(3)
    sys.path.insert(0, os.path.join(HERE, "reference"))
    from unet3d import MODELSCOPE, SD21_VIDRD, UNet3D

    torch.set_num_threads(opts["threads"])
    variant = opts["variant"]
    cfg = SD21_VIDRD if variant == "vidrd" else MODELSCOPE
    init = torch.nn.init
    saved = {k: getattr(init, k) for k in ("kaiming_uniform_", "uniform_", "zeros_", "ones_", "normal_")}
    t0 = time.perf_counter()
    try:
        for k in saved:  # storage is allocated, PyTorch's default initialisation skipped (filled below)
            setattr(init, k, lambda t, *a, **kw: t)
        model = UNet3D(cfg, variant).eval()
    finally:
        for k, f in saved.items():
            setattr(init, k, f)
    build_s = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.02, 0.02, generator=gen)
    log(f"{variant}: {sum(p.numel() for p in model.parameters())} parameters, built in {build_s:.2f} s")

    b, f, s = opts["batch"], opts["frames"], opts["size"]
    sample = torch.rand(b, 4, f, s, s, generator=gen) * 2 - 1
    timestep = torch.full((b,), 500.0)
    context = torch.rand(b, 77, cfg["cross_attention_dim"], generator=gen) * 2 - 1
    times = []
    with torch.no_grad():
        for i in range(opts["warmup"] + opts["runs"]):
            t0 = time.perf_counter()
            model(sample, timestep, context)
            dt = time.perf_counter() - t0
            log(f"forward {i}: {dt:.2f} s")
            if i >= opts["warmup"]:
                times.append(dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "build_s": build_s, "forward_s": times, "peak_rss_mb": peak}), flush=True)


if __name__ == "__main__":
    main()
