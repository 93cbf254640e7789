#!/usr/bin/python3
"""An independent PyTorch reference of Stable Diffusion's AutoencoderKL with the VidRD temporal decoder,
written from the published architecture (research/models-spec.md sections 1.2, 2, 5) without diffusers.

    /usr/bin/python3 tools/reference/vae.py [path/to/vae_temporal.tsv]

Run as a script, it builds the SD 2.1 VAE config with add_temp_conv=true and checks that its state_dict
has exactly the names and shapes of the key list (default test/fixtures/vae/vae_temporal.tsv, a copy of
research/keys/vae_temporal.tsv). Imported, it is the model tools/fixtures/vae_fixture.py runs.

Architecture (diffusers-0.14 names, which is what the state_dict uses):
  encoder: conv_in -> down_blocks.i (resnets x layers_per_block, eps 1e-6; downsamplers.0 for every block
           but the last: pad right/bottom by 1, Conv 3x3 stride 2 pad 0) -> mid_block (resnets.0,
           attentions.0 = one-head self-attention over H*W with group_norm/query/key/value/proj_attn,
           resnets.1) -> conv_norm_out (GroupNorm eps 1e-6) -> SiLU -> conv_out (2 * latent channels)
  quant_conv (1x1) -> mean, logvar = split; logvar clamped to [-30, 20]
  post_quant_conv (1x1) -> decoder: conv_in -> mid_block -> up_blocks.i over reversed channels
           (resnets x (layers_per_block + 1), each followed by temp_convs.j when add_temp_conv;
           upsamplers.0 = nearest x2 then Conv 3x3, for every block but the last)
           -> conv_norm_out -> SiLU -> conv_out (3 channels)
  temp_convs.j: 3 repeats of GroupNorm(temp_groups, C, eps 1e-5) -> SiLU -> Dropout -> Conv3d (3,1,1)
           pad (1,0,0), module indices 4r..4r+3; residual x + f(x) when num_frames > 1, exactly x otherwise.
           The GroupNorm sees the 5-D [B, C, F, H, W] tensor, so its statistics span all F frames.
Decoder input is [(B F), C, h, w] with the frame index fastest; num_frames says how to regroup it.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

SD21_VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "scaling_factor": 0.18215,
    "add_temp_conv": True,
}

SPATIAL_EPS = 1e-6  # every GroupNorm of the 2-D VAE
TEMPORAL_EPS = 1e-5  # nn.GroupNorm's default, used by the temporal convs
TEMPORAL_REPEATS = 3


class ResnetBlock(nn.Module):
    """norm1 -> SiLU -> conv1 -> norm2 -> SiLU -> conv2, plus the input (through a 1x1 conv_shortcut when
    the channel count changes). No time embedding in the VAE."""

    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=SPATIAL_EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=SPATIAL_EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        skip = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return skip + h


class SpatialSelfAttention(nn.Module):
    """One head over the H*W positions of each image, scale 1/sqrt(C), residual."""

    def __init__(self, channels, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=SPATIAL_EPS)
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)
        self.value = nn.Linear(channels, channels)
        self.proj_attn = nn.Linear(channels, channels)

    def forward(self, x):
        n, c, h, w = x.shape
        s = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)  # [N, H*W, C]
        q, k, v = self.query(s), self.key(s), self.value(s)
        weights = torch.softmax(q @ k.transpose(1, 2) / c ** 0.5, dim=-1)  # [N, H*W, H*W]
        out = self.proj_attn(weights @ v)  # [N, H*W, C]
        return x + out.transpose(1, 2).reshape(n, c, h, w)


class Downsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # (left, right, top, bottom): right and bottom only


class Upsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TemporalConv(nn.Module):
    """The authors' 3-repeat temporal conv; `convs` indices 0,4,8 are GroupNorms and 3,7,11 Conv3ds."""

    def __init__(self, channels, groups):
        super().__init__()
        layers = []
        for _ in range(TEMPORAL_REPEATS):
            layers += [
                nn.GroupNorm(groups, channels, eps=TEMPORAL_EPS),
                nn.SiLU(),
                nn.Dropout(0.1),
                nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0)),
            ]
        self.convs = nn.ModuleList(layers)

    def forward(self, x):  # x [B, C, F, H, W]
        if x.shape[2] == 1:
            return x
        h = x
        for layer in self.convs:
            h = layer(h)
        return x + h


class MidBlock(nn.Module):
    def __init__(self, channels, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(channels, channels, groups), ResnetBlock(channels, channels, groups)])
        self.attentions = nn.ModuleList([SpatialSelfAttention(channels, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, downsample):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample(cout)]) if downsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
        return x


class UpBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, upsample, temporal, temporal_groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.temp_convs = nn.ModuleList([TemporalConv(cout, temporal_groups) for _ in range(layers)]) if temporal else None
        self.upsamplers = nn.ModuleList([Upsample(cout)]) if upsample else None

    def forward(self, x, num_frames):
        for j, r in enumerate(self.resnets):
            x = r(x)
            if self.temp_convs is not None:
                n, c, h, w = x.shape
                v = x.reshape(n // num_frames, num_frames, c, h, w).transpose(1, 2)  # [B, C, F, H, W]
                v = self.temp_convs[j](v)
                x = v.transpose(1, 2).reshape(n, c, h, w)  # [(B F), C, H, W]
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, groups = cfg["block_out_channels"], cfg["norm_num_groups"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(
            [DownBlock(ch[max(i - 1, 0)], ch[i], cfg["layers_per_block"], groups, i < len(ch) - 1) for i in range(len(ch))]
        )
        self.mid_block = MidBlock(ch[-1], groups)
        self.conv_norm_out = nn.GroupNorm(groups, ch[-1], eps=SPATIAL_EPS)
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg["latent_channels"], 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for block in self.down_blocks:
            x = block(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, groups = list(reversed(cfg["block_out_channels"])), cfg["norm_num_groups"]
        temporal = cfg.get("add_temp_conv", False)
        temporal_groups = cfg.get("temp_norm_num_groups", 32)
        self.conv_in = nn.Conv2d(cfg["latent_channels"], ch[0], 3, padding=1)
        self.mid_block = MidBlock(ch[0], groups)
        self.up_blocks = nn.ModuleList(
            [
                UpBlock(ch[max(i - 1, 0)], ch[i], cfg["layers_per_block"] + 1, groups, i < len(ch) - 1, temporal, temporal_groups)
                for i in range(len(ch))
            ]
        )
        self.conv_norm_out = nn.GroupNorm(groups, ch[-1], eps=SPATIAL_EPS)
        self.conv_out = nn.Conv2d(ch[-1], cfg["out_channels"], 3, padding=1)

    def forward(self, z, num_frames=1):
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x, num_frames)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class TemporalAutoencoderKL(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        latent = cfg["latent_channels"]
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quant_conv = nn.Conv2d(2 * latent, 2 * latent, 1)
        self.post_quant_conv = nn.Conv2d(latent, latent, 1)

    def encode(self, frames):
        """frames [B, C, F, H, W] -> mean, logvar [B, latent, F, h, w] (VAE space, not yet scaled)."""
        b, c, f, h, w = frames.shape
        moments = self.quant_conv(self.encoder(frames.transpose(1, 2).reshape(b * f, c, h, w)))
        mean, logvar = moments.chunk(2, dim=1)
        logvar = logvar.clamp(-30.0, 20.0)
        unfold = lambda t: t.reshape(b, f, *t.shape[1:]).transpose(1, 2)  # noqa: E731  [B, latent, F, h, w]
        return unfold(mean), unfold(logvar)

    def decode(self, latents, num_frames):
        """latents [B, latent, F, h, w] in diffusion space (times scaling_factor) -> frames [B, 3, F, H, W].
        num_frames = F is the temporal decoder; num_frames = 1 is the authors' pipeline (per frame)."""
        b, c, f, h, w = latents.shape
        z = (latents / self.cfg["scaling_factor"]).transpose(1, 2).reshape(b * f, c, h, w)  # [(B F), C, h, w]
        out = self.decoder(self.post_quant_conv(z), num_frames)
        return out.reshape(b, f, *out.shape[1:]).transpose(1, 2)


def read_key_list(path):
    keys = {}
    with open(path) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            name, shape = line.rstrip("\n").split("\t")
            keys[name] = [int(d) for d in shape.strip("[]").split(",")]
    return keys


def check_keys(path):
    model = TemporalAutoencoderKL(SD21_VAE_CONFIG)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    expected = read_key_list(path)
    missing = sorted(set(expected) - set(ours))
    extra = sorted(set(ours) - set(expected))
    wrong = sorted(k for k in set(ours) & set(expected) if ours[k] != expected[k])
    assert not missing and not extra and not wrong, f"missing {missing[:5]}, extra {extra[:5]}, wrong shapes {wrong[:5]}"
    params = sum(v.numel() for v in model.state_dict().values())
    print(f"{len(ours)} keys, {params} parameters: names and shapes equal {path}")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "test", "fixtures", "vae", "vae_temporal.tsv")
    check_keys(sys.argv[1] if len(sys.argv) > 1 else default)
