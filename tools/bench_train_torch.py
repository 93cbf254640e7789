#!/usr/bin/python3
"""PyTorch reference timings for bench/train.ts (npm run bench -- train): training steps of the small video
UNet stack that bench/train.ts builds with the graph IR.

The line protocol is the one of tools/bench_runtime_torch.py, so that rounds of the reference alternate
with rounds of ours (bench/lib/timing.ts) and machine load falls on both alike:
    stdin  line 1:    {"threads": 2}
    stdout line 1:    {"torch": "1.13.0", "threads": 2}   or {"unavailable": "<why>"} (then exit status 3)
    stdin  per round: {"case": {"metric": .., "op": "train", "stage": "step" | "forward_backward" | "forward",
                                "model": {<UnetConfig>}, "optimizer": {"kind": "adamw" | "sgd", "lr": ..,
                                "betas": [..], "eps": .., "weight_decay": ..}},
                       "plan": {"warmupRuns": .., "minRuns": .., "maxRuns": .., "minSeconds": ..}}
    stdout per round: {"metric": .., "times_ms": [..]}   or {"error": "<why>"}
It exits at the end of stdin. A case's model, data and optimizer are made once, on its first round.

Stages: "step" is one training step (forward, MSE loss, backward, optimizer step); "forward_backward"
leaves out the optimizer; "forward" computes the loss alone (no autograd graph kept).

The model (bench/train.ts documents it): latents [B, 4, F, S, S]; spatial layers act per frame on
[B*F, C, S, S], temporal convs on [B, C, F, S, S].
    conv_in 3x3 -> blocks at channels[0] -> downsample (3x3 stride 2) -> blocks at channels[1]
    -> upsample (nearest x2, 3x3 conv to channels[0]) -> concat with the skip from before the downsample
    -> GroupNorm -> SiLU -> conv_out 3x3
    block: ResNet (GroupNorm -> SiLU -> conv 3x3, twice, residual), then temporal conv
           (GroupNorm -> SiLU -> Conv3d (3, 1, 1) pad (1, 0, 0), residual)
    loss = mean((out - target)^2)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_runtime_torch import serve  # noqa: E402  (the shared protocol loop)


def build_model(torch, cfg):
    nn = torch.nn
    F = torch.nn.functional
    groups, frames = cfg["groups"], cfg["frames"]

    class Block(nn.Module):
        def __init__(self, ch):
            super().__init__()
            self.norm1, self.conv1 = nn.GroupNorm(groups, ch), nn.Conv2d(ch, ch, 3, padding=1)
            self.norm2, self.conv2 = nn.GroupNorm(groups, ch), nn.Conv2d(ch, ch, 3, padding=1)
            self.temp_norm, self.temp_conv = nn.GroupNorm(groups, ch), nn.Conv3d(ch, ch, (3, 1, 1), padding=(1, 0, 0))

        def forward(self, h):  # [B*F, C, S, S]
            h = h + self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(h))))))
            bf, c, s1, s2 = h.shape
            v = h.reshape(bf // frames, frames, c, s1, s2).permute(0, 2, 1, 3, 4)  # [B, C, F, S, S]
            v = v + self.temp_conv(F.silu(self.temp_norm(v)))
            return v.permute(0, 2, 1, 3, 4).reshape(bf, c, s1, s2)  # [B*F, C, S, S]

    class Unet(nn.Module):
        def __init__(self):
            super().__init__()
            c0, c1 = cfg["channels"]
            n = cfg["blocks_per_level"]
            self.conv_in = nn.Conv2d(cfg["in_channels"], c0, 3, padding=1)
            self.down_blocks = nn.ModuleList([Block(c0) for _ in range(n)])
            self.downsample = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
            self.mid_blocks = nn.ModuleList([Block(c1) for _ in range(n)])
            self.upsample = nn.Conv2d(c1, c0, 3, padding=1)
            self.norm_out = nn.GroupNorm(groups, 2 * c0)
            self.conv_out = nn.Conv2d(2 * c0, cfg["in_channels"], 3, padding=1)

        def forward(self, x):  # [B, 4, F, S, S]
            b, c, f, s1, s2 = x.shape
            h = self.conv_in(x.permute(0, 2, 1, 3, 4).reshape(b * f, c, s1, s2))  # [B*F, 4, S, S] -> [B*F, c0, S, S]
            for block in self.down_blocks:
                h = block(h)
            skip = h
            h = self.downsample(h)  # [B*F, c1, S/2, S/2]
            for block in self.mid_blocks:
                h = block(h)
            h = self.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))  # [B*F, c0, S, S]
            h = self.conv_out(F.silu(self.norm_out(torch.cat([h, skip], dim=1))))  # [B*F, 4, S, S]
            return h.reshape(b, f, c, s1, s2).permute(0, 2, 1, 3, 4)  # [B, 4, F, S, S]

    return Unet()


def make_run(torch, case, gen):
    cfg = case["model"]
    model = build_model(torch, cfg)
    shape = [cfg["batch"], cfg["in_channels"], cfg["frames"], cfg["size"], cfg["size"]]
    x = torch.rand(shape, generator=gen) * 2 - 1
    target = torch.rand(shape, generator=gen) * 2 - 1
    opt = case["optimizer"]
    if opt["kind"] == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=opt["lr"], betas=tuple(opt["betas"]), eps=opt["eps"], weight_decay=opt["weight_decay"])
    elif opt["kind"] == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=opt["lr"])
    else:
        raise ValueError(f"unknown optimizer {opt['kind']!r}")
    stage = case["stage"]

    def loss():
        return torch.nn.functional.mse_loss(model(x), target)

    def forward():
        with torch.no_grad():
            loss()

    def forward_backward():
        optimizer.zero_grad(set_to_none=True)
        loss().backward()

    def step():
        forward_backward()
        optimizer.step()

    runs = {"forward": forward, "forward_backward": forward_backward, "step": step}
    if stage not in runs:
        raise ValueError(f"unknown stage {stage!r}")
    return runs[stage]


if __name__ == "__main__":
    sys.exit(serve(make_run, inference=False))
