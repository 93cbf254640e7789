#!/usr/bin/python3
"""A PyTorch reference of the two text-to-video UNet3Ds, written from the published architectures
(/work/research/models-spec.md sections 2, 3 and 7), without diffusers, for the parity fixtures of
src/models/unet3d (tools/fixtures/unet3d_fixture.py) and the PyTorch side of bench/unet.ts.

    variant "vidrd":      the authors' UNet3DConditionModel (Gu et al., "Reuse and Diffuse", 2023):
                          latents stay [B, C, F, H, W]; ResNet GroupNorms and conv_norm_out normalise
                          over all frames of a clip; convolutions act per frame; a temporal conv after
                          every ResNet; temporal attention (with the frame embedding added to the
                          residual stream) inside every transformer block.
    variant "modelscope": diffusers' UNet3DConditionModel (ModelScope text-to-video-ms-1.7b): frames
                          folded into the batch [B*F, C, H, W]; transformer_in after conv_in; a
                          TransformerTemporalModel after every spatial transformer; no frame embedding.

State-dict keys are those of the original implementations (checked against the research key lists for the
SD-2.1-sized configs):

    /usr/bin/python3 tools/reference/unet3d.py --check-keys [DIR]     (DIR: test/fixtures/unet3d by default)

Timesteps are a float tensor [B] (one per clip) or [B, F] (one per frame, an extension: the timestep only
enters through the ResNets' time_emb_proj, spec 3.5).
"""
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------------------------------
# Configuration (diffusers-style config.json fields; see src/models/unet3d/config.ts for the rules)


class Config:
    def __init__(self, cfg, variant):
        self.variant = variant
        self.in_channels = cfg.get("in_channels", 4)
        self.out_channels = cfg.get("out_channels", 4)
        self.channels = list(cfg["block_out_channels"])
        self.layers = cfg.get("layers_per_block", 2)
        self.groups = cfg.get("norm_num_groups", 32)
        self.eps = cfg.get("norm_eps", 1e-5)
        self.cross = cfg["cross_attention_dim"]
        self.linear_proj = cfg.get("use_linear_projection", True)
        self.down_types = list(cfg["down_block_types"])
        self.up_types = list(cfg["up_block_types"])
        self.flip = cfg.get("flip_sin_to_cos", True)
        self.shift = cfg.get("freq_shift", 0)
        self.frame_embedding = cfg.get("add_temp_embed", True) and variant == "vidrd"
        self.temp_conv = cfg.get("add_temp_conv", True) or variant == "modelscope"
        self.temp_attn_only_up = cfg.get("add_temp_attn_only_on_upblocks", False)
        n = len(self.channels)
        a = cfg.get("num_attention_heads") or cfg["attention_head_dim"]
        a = [a] * n if isinstance(a, int) else list(a)
        if variant == "vidrd" or cfg.get("num_attention_heads"):
            self.heads = a  # SD quirk: attention_head_dim holds the number of heads
        else:
            self.heads = [c // d for c, d in zip(self.channels, a)]  # diffusers UNet3D: channels per head
        self.head_dims = [c // h for c, h in zip(self.channels, self.heads)]
        self.temb = 4 * self.channels[0]


# --------------------------------------------------------------------------------------------------
# Shared layers


class Attention(nn.Module):
    """Multi-head attention, diffusers names: to_q/to_k/to_v (no bias), to_out.0 (bias), to_out.1 Dropout."""

    def __init__(self, query_dim, heads, head_dim, context_dim=None):
        super().__init__()
        inner = heads * head_dim
        self.heads, self.head_dim = heads, head_dim
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim or query_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim or query_dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Dropout(0.0)])

    def forward(self, x, context=None):  # x [N, L, C], context [N, Lc, D]
        ctx = x if context is None else context
        n, lq, _ = x.shape
        lk = ctx.shape[1]
        q = self.to_q(x).reshape(n, lq, self.heads, self.head_dim).transpose(1, 2)  # [N, heads, L, d]
        k = self.to_k(ctx).reshape(n, lk, self.heads, self.head_dim).transpose(1, 2)
        v = self.to_v(ctx).reshape(n, lk, self.heads, self.head_dim).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(-1, -2) * self.head_dim ** -0.5, dim=-1)
        o = (w @ v).transpose(1, 2).reshape(n, lq, self.heads * self.head_dim)  # [N, L, heads*d]
        return self.to_out[1](self.to_out[0](o))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner)

    def forward(self, x):
        value, gate = self.proj(x).chunk(2, dim=-1)  # first half the value, second half the gate
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


def frame_embedding(frames, channels):
    """The authors' get_sin_pos_embedding, computed in float32 as they do: [F, C]."""
    pe = torch.zeros(frames, channels)
    position = torch.arange(0, frames).unsqueeze(1).float()
    div = torch.exp(torch.arange(0, channels, 2, dtype=torch.float32) * -(math.log(10000.0) / channels))
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe


class BasicTransformerBlock(nn.Module):
    """Self-attention, cross-attention (or a second self-attention), [temporal attention], GEGLU FF."""

    def __init__(self, dim, heads, head_dim, context_dim, temporal=False, frame_embedding_on=False):
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attention(dim, heads, head_dim)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attention(dim, heads, head_dim, context_dim)
        if temporal:
            self.temp_norm, self.temp_attn = nn.LayerNorm(dim), Attention(dim, heads, head_dim)
        self.temporal, self.frame_embedding_on = temporal, frame_embedding_on
        self.norm3, self.ff = nn.LayerNorm(dim), FeedForward(dim)

    def forward(self, x, context=None, frames=1):  # x [B*F, N, C] (frame fastest), context [B*F, L, D] or None
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        if self.temporal:
            bf, n, c = x.shape
            b = bf // frames
            if self.frame_embedding_on:  # added in place by the authors: it stays in the residual stream
                x = (x.reshape(b, frames, n, c) + frame_embedding(frames, c).to(x.dtype)[:, None, :]).reshape(bf, n, c)
            if frames > 1:  # the authors keep the input for images (video_length <= 1)
                s = x.reshape(b, frames, n, c).transpose(1, 2).reshape(b * n, frames, c)  # [B*N, F, C]
                s = self.temp_attn(self.temp_norm(s)) + s
                x = s.reshape(b, n, frames, c).transpose(1, 2).reshape(bf, n, c)  # [B*F, N, C]
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    """The authors' Transformer3DModel (temporal=True) or diffusers' Transformer2DModel, on [B*F, C, H, W]."""

    def __init__(self, channels, heads, head_dim, groups, context_dim, linear_proj, temporal=False, frame_embedding_on=False):
        super().__init__()
        inner = heads * head_dim
        self.linear_proj = linear_proj
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, inner) if linear_proj else nn.Conv2d(channels, inner, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(inner, heads, head_dim, context_dim, temporal, frame_embedding_on)])
        self.proj_out = nn.Linear(inner, channels) if linear_proj else nn.Conv2d(inner, channels, 1)

    def forward(self, x, context, frames):  # x [B*F, C, H, W], context [B*F, L, D]
        bf, c, h, w = x.shape
        t = self.norm(x)
        if self.linear_proj:
            t = self.proj_in(t.permute(0, 2, 3, 1).reshape(bf, h * w, c))  # [B*F, H*W, inner]
        else:
            t = self.proj_in(t)
            t = t.permute(0, 2, 3, 1).reshape(bf, h * w, t.shape[1])
        t = self.transformer_blocks[0](t, context, frames)
        if self.linear_proj:
            t = self.proj_out(t).reshape(bf, h, w, c).permute(0, 3, 1, 2)
        else:
            t = self.proj_out(t.reshape(bf, h, w, -1).permute(0, 3, 1, 2))
        return t + x


class TransformerTemporal(nn.Module):
    """diffusers' TransformerTemporalModel: attention over the frames of every pixel, on [B*F, C, H, W]."""

    def __init__(self, channels, heads, head_dim, groups):
        super().__init__()
        inner = heads * head_dim
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, inner)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(inner, heads, head_dim, None)])  # attn2: self
        self.proj_out = nn.Linear(inner, channels)

    def forward(self, x, frames):
        bf, c, h, w = x.shape
        b = bf // frames
        t = self.norm(x.reshape(b, frames, c, h, w).permute(0, 2, 1, 3, 4))  # [B, C, F, H, W]: stats over the clip
        t = self.proj_in(t.permute(0, 3, 4, 2, 1).reshape(b * h * w, frames, c))  # [B*H*W, F, inner]
        t = self.proj_out(self.transformer_blocks[0](t))
        t = t.reshape(b, h, w, frames, c).permute(0, 3, 4, 1, 2).reshape(bf, c, h, w)
        return t + x


def per_frame(conv, x):
    """A Conv2d on every frame of [B, C, F, H, W] (the authors' InflatedConv3d)."""
    b, _, f, h, w = x.shape
    y = conv(x.permute(0, 2, 1, 3, 4).reshape(b * f, x.shape[1], h, w))
    return y.reshape(b, f, *y.shape[1:]).permute(0, 2, 1, 3, 4)


class ResnetBlock(nn.Module):
    """diffusers' ResnetBlock2D; on [B, C, F, H, W] its GroupNorms see the whole clip (the authors' ResnetBlock3D)."""

    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin, eps=eps), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout, eps=eps), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        """x [B, C, F, H, W] with emb [B, T] or [B, F, T]; or x [N, C, H, W] with emb [N, T]."""
        conv = (lambda m, t: per_frame(m, t)) if x.dim() == 5 else (lambda m, t: m(t))
        h = conv(self.conv1, F.silu(self.norm1(x)))
        p = self.time_emb_proj(F.silu(emb))
        if x.dim() == 5:
            p = p[:, :, None, None, None] if p.dim() == 2 else p.permute(0, 2, 1)[:, :, :, None, None]
        else:
            p = p[:, :, None, None]
        h = conv(self.conv2, F.silu(self.norm2(h + p)))
        return (conv(self.conv_shortcut, x) if self.conv_shortcut is not None else x) + h


class TemporalConvVidRD(nn.Module):
    """The authors' TemporalConvLayer: 4 x [GroupNorm(32), SiLU, Dropout, Conv3d (3,1,1)]; identity at F = 1."""

    def __init__(self, c):
        super().__init__()
        layers = []
        for _ in range(4):
            layers += [nn.GroupNorm(32, c), nn.SiLU(), nn.Dropout(0.1), nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0))]
        self.convs = nn.ModuleList(layers)

    def forward(self, x):  # [B, C, F, H, W]
        if x.shape[2] <= 1:
            return x
        h = x
        for m in self.convs:
            h = m(h)
        return x + h


class TemporalConvModelScope(nn.Module):
    """diffusers' TemporalConvLayer: conv1 = [GN, SiLU, Conv3d]; conv2..4 = [GN, SiLU, Dropout, Conv3d]; always x + h."""

    def __init__(self, c, groups):
        super().__init__()
        conv = lambda: nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0))  # noqa: E731
        self.conv1 = nn.Sequential(nn.GroupNorm(groups, c), nn.SiLU(), conv())
        self.conv2 = nn.Sequential(nn.GroupNorm(groups, c), nn.SiLU(), nn.Dropout(0.1), conv())
        self.conv3 = nn.Sequential(nn.GroupNorm(groups, c), nn.SiLU(), nn.Dropout(0.1), conv())
        self.conv4 = nn.Sequential(nn.GroupNorm(groups, c), nn.SiLU(), nn.Dropout(0.1), conv())

    def forward(self, x, frames):  # x [B*F, C, H, W]
        bf, c, h, w = x.shape
        v = x.reshape(bf // frames, frames, c, h, w).permute(0, 2, 1, 3, 4)  # [B, C, F, H, W]
        v = v + self.conv4(self.conv3(self.conv2(self.conv1(v))))
        return v.permute(0, 2, 1, 3, 4).reshape(bf, c, h, w)


class Sampler(nn.Module):
    """Downsample2D (3x3 stride 2 pad 1) or Upsample2D (nearest x2, 3x3): key `.conv`."""

    def __init__(self, c, down):
        super().__init__()
        self.down = down
        self.conv = nn.Conv2d(c, c, 3, stride=2 if down else 1, padding=1)

    def forward(self, x):
        if x.dim() == 5:  # per frame; upsampling leaves the frame axis alone (scale [1, 2, 2])
            if not self.down:
                x = F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest")
            return per_frame(self.conv, x)
        return self.conv(x if self.down else F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Block(nn.Module):
    """Down, mid or up block: resnets, temp_convs, [attentions, temp_attentions], [down/upsamplers]."""

    def __init__(self, cfg, resnet_io, level, cross, place, sampler=None):
        super().__init__()
        c, ms = cfg.channels[level], cfg.variant == "modelscope"
        self.cfg, self.place = cfg, place
        self.resnets = nn.ModuleList([ResnetBlock(i, o, cfg.temb, cfg.groups, cfg.eps) for i, o in resnet_io])
        if cfg.temp_conv:
            self.temp_convs = nn.ModuleList([TemporalConvModelScope(o, cfg.groups) if ms else TemporalConvVidRD(o) for _, o in resnet_io])
        n_attn = 1 if place == "mid" else (len(resnet_io) if cross else 0)
        temporal = not ms and (not cfg.temp_attn_only_up or place == "up")
        if n_attn:
            self.attentions = nn.ModuleList([
                SpatialTransformer(c, cfg.heads[level], cfg.head_dims[level], cfg.groups, cfg.cross, cfg.linear_proj, temporal, cfg.frame_embedding)
                for _ in range(n_attn)])
            if ms:
                self.temp_attentions = nn.ModuleList([TransformerTemporal(c, cfg.heads[level], cfg.head_dims[level], cfg.groups) for _ in range(n_attn)])
        if sampler == "down":
            self.downsamplers = nn.ModuleList([Sampler(c, True)])
        elif sampler == "up":
            self.upsamplers = nn.ModuleList([Sampler(c, False)])

    def layer(self, j, h, emb, ctx, frames):
        """resnet -> temporal conv -> [spatial transformer -> temporal transformer] for layer j."""
        ms = self.cfg.variant == "modelscope"
        h = self.resnets[j](h, emb)
        if hasattr(self, "temp_convs"):
            h = self.temp_convs[j](h, frames) if ms else self.temp_convs[j](h)
        if hasattr(self, "attentions") and j < len(self.attentions):
            if ms:
                h = self.attentions[j](h, ctx, frames)
                h = self.temp_attentions[j](h, frames)
            else:
                b, c, f, hh, ww = h.shape
                t = self.attentions[j](h.permute(0, 2, 1, 3, 4).reshape(b * f, c, hh, ww), ctx, frames)
                h = t.reshape(b, f, c, hh, ww).permute(0, 2, 1, 3, 4)
        return h


class UNet3D(nn.Module):
    def __init__(self, cfg_json, variant):
        super().__init__()
        cfg = self.cfg = Config(cfg_json, variant)
        ch, n = cfg.channels, len(cfg.channels)
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.time_embedding = nn.Module()
        self.time_embedding.linear_1 = nn.Linear(ch[0], cfg.temb)
        self.time_embedding.linear_2 = nn.Linear(cfg.temb, cfg.temb)
        if variant == "modelscope":
            self.transformer_in = TransformerTemporal(ch[0], 8, cfg.head_dims[0], cfg.groups)
        self.down_blocks = nn.ModuleList()
        skips, prev = [ch[0]], ch[0]
        for i in range(n):
            io = [(prev if j == 0 else ch[i], ch[i]) for j in range(cfg.layers)]
            skips += [ch[i]] * cfg.layers + ([ch[i]] if i < n - 1 else [])
            self.down_blocks.append(Block(cfg, io, i, cfg.down_types[i].startswith("CrossAttn"), "down", "down" if i < n - 1 else None))
            prev = ch[i]
        self.mid_block = Block(cfg, [(ch[-1], ch[-1])] * 2, n - 1, True, "mid")
        self.up_blocks = nn.ModuleList()
        for i in range(n):
            level = n - 1 - i
            io = []
            for _ in range(cfg.layers + 1):
                io.append((prev + skips.pop(), ch[level]))
                prev = ch[level]
            self.up_blocks.append(Block(cfg, io, level, cfg.up_types[i].startswith("CrossAttn"), "up", "up" if i < n - 1 else None))
        self.conv_norm_out = nn.GroupNorm(cfg.groups, ch[0], eps=cfg.eps)
        self.conv_out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)

    def time_embed(self, t):
        """diffusers' Timesteps + TimestepEmbedding; the sinusoids in float32 as diffusers computes them."""
        half = self.cfg.channels[0] // 2
        exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32) / (half - self.cfg.shift)
        args = t.float()[..., None] * torch.exp(exponent)
        emb = torch.cat([torch.cos(args), torch.sin(args)] if self.cfg.flip else [torch.sin(args), torch.cos(args)], dim=-1)
        emb = emb.to(self.conv_in.weight.dtype)
        return self.time_embedding.linear_2(F.silu(self.time_embedding.linear_1(emb)))

    def forward(self, sample, timestep, context):
        """sample [B, C, F, H, W], timestep [B] or [B, F], context [B, L, D] -> eps [B, out, F, H, W]."""
        cfg, ms = self.cfg, self.cfg.variant == "modelscope"
        b, _, f, hh, ww = sample.shape
        emb = self.time_embed(timestep)  # [B, T] or [B, F, T]
        if ms:
            emb = emb.reshape(b * f, -1) if emb.dim() == 3 else emb.repeat_interleave(f, dim=0)  # [B*F, T]
            h = self.conv_in(sample.permute(0, 2, 1, 3, 4).reshape(b * f, -1, hh, ww))
            h = self.transformer_in(h, f)
        else:
            h = per_frame(self.conv_in, sample)
        ctx = context.repeat_interleave(f, dim=0)  # [B*F, L, D]: every frame sees its clip's text
        skips = [h]
        for blk in self.down_blocks:
            for j in range(len(blk.resnets)):
                h = blk.layer(j, h, emb, ctx, f)
                skips.append(h)
            if hasattr(blk, "downsamplers"):
                h = blk.downsamplers[0](h)
                skips.append(h)
        h = self.mid_block.layer(0, h, emb, ctx, f)
        h = self.mid_block.layer(1, h, emb, None, f)  # mid: res0, tc0, attn(+temp), res1, tc1
        for blk in self.up_blocks:
            for j in range(len(blk.resnets)):
                h = blk.layer(j, torch.cat([h, skips.pop()], dim=1), emb, ctx, f)
            if hasattr(blk, "upsamplers"):
                h = blk.upsamplers[0](h)
        h = F.silu(self.conv_norm_out(h))  # vidrd: over the clip (5-D); modelscope: per frame
        if ms:
            return self.conv_out(h).reshape(b, f, -1, hh, ww).permute(0, 2, 1, 3, 4)
        return per_frame(self.conv_out, h)


# --------------------------------------------------------------------------------------------------
# Key check for the SD-2.1-sized configs, without allocating or initialising 1.2-1.4 B parameters

SD21_VIDRD = dict(in_channels=4, out_channels=4, block_out_channels=[320, 640, 1280, 1280], layers_per_block=2,
                  attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024, use_linear_projection=True,
                  norm_num_groups=32, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0,
                  down_block_types=["CrossAttnDownBlock3D"] * 3 + ["DownBlock3D"],
                  up_block_types=["UpBlock3D"] + ["CrossAttnUpBlock3D"] * 3, add_temp_embed=True, add_temp_conv=True)
MODELSCOPE = dict(SD21_VIDRD, attention_head_dim=64)


def shapes_without_init(cfg, variant):
    """{key: shape} of UNet3D(cfg), built on uninitialised storage (init functions stubbed out)."""
    saved = {k: getattr(nn.init, k) for k in ("kaiming_uniform_", "uniform_", "zeros_", "ones_", "normal_")}
    try:
        for k in saved:
            setattr(nn.init, k, lambda t, *a, **kw: t)
        with torch.no_grad():
            model = UNet3D(cfg, variant)
        return {k: list(v.shape) for k, v in model.state_dict().items()}
    finally:
        for k, f in saved.items():
            setattr(nn.init, k, f)


def read_tsv(path):
    out = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        key, shape = line.rstrip("\n").split("\t")
        out[key] = [int(d) for d in shape.strip("[]").split(",") if d.strip()]
    return out


def check_keys(keys_dir):
    ok = True
    for variant, cfg, name in [("vidrd", SD21_VIDRD, "unet_vidrd.tsv"), ("modelscope", MODELSCOPE, "unet_modelscope_diffusers.tsv")]:
        ours, want = shapes_without_init(cfg, variant), read_tsv(f"{keys_dir}/{name}")
        missing = sorted(set(want) - set(ours))
        extra = sorted(set(ours) - set(want))
        wrong = sorted(k for k in set(ours) & set(want) if ours[k] != want[k])
        params = sum(math.prod(s) for s in ours.values())
        print(f"{variant}: {len(ours)} keys, {params} parameters; missing {missing[:5]}, extra {extra[:5]}, wrong shape {wrong[:5]}")
        ok = ok and not (missing or extra or wrong)
    return ok


KEY_LISTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "unet3d")

if __name__ == "__main__":
    if len(sys.argv) in (2, 3) and sys.argv[1] == "--check-keys":
        sys.exit(0 if check_keys(sys.argv[2] if len(sys.argv) == 3 else KEY_LISTS) else 1)
    print(__doc__)
