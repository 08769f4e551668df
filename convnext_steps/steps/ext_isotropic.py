"""Extension - isotropic ConvNeXt-S/B/L: ViT's shape built from ConvNeXt blocks (the paper's Section 3.3).

ViT cuts the image into 16x16 patches and then keeps one resolution (14x14 at 224) and one width through all of
its blocks: no stages, no downsampling. The paper asks whether the ConvNeXt block also works in that shape: a
16x16 stride-16 patchify stem, one stage of step 12's blocks at constant width, the pooled LayerNorm and the
classifier. The widths are ViT-S/B/L's (384 / 768 / 1024); depths 18 / 18 / 36 match ViT's parameters and
FLOPs. Written on top of step 12, as the official `models/convnext_isotropic.py` is written on top of
`models/convnext.py`: the same `Block`, another stem, one stage.

The stem is the conv alone: the official isotropic stem has no norm after it (ViT's patch embedding has none).

Layer scale: the official model definition defaults to none (`layer_scale_init_value=0`), but the official
training script defaults to 1e-6 and its commands (TRAINING.md) turn it off for S and B only; the paper's
Appendix A.1 says the same ("layer scale is disabled for isotropic ConvNeXt-S/B"). So S and B have no layer
scale and L keeps step 12's 1e-6. Stochastic depth (Appendix A.1): 0.1 / 0.2 / 0.5 for S / B / L.

Counted at 224x224 (tests/test_extensions.py): S 22,308,712 parameters and 4.286 G multiply-adds, B 87,083,752
and 16.896 G, L 305,942,504 (36,864 of them layer scale) and 59.699 G. Each rounds to the published figures.
The paper's Table 2 (arXiv v2; the isotropic table is Table 2 there, Table 3 is COCO detection) and the official
README agree on every parameter count and FLOPs figure; they differ in one accuracy: isotropic ConvNeXt-S is
79.7% top-1 in the paper and 78.7% in the README (B 82.0% and L 82.6% in both). GELU, the norms and the
pooling are elementwise work that a multiply-add count leaves out, as in the roadmap.
"""

from __future__ import annotations

from torch import nn

from . import step12_separate_downsampling as previous

__all__ = ["PatchifyStem", "CONFIG_S", "CONFIG_B", "CONFIG_L", "TITLES", "CHANGES", "PAPER", "README", "SOURCES"]

# Per model (S, B, L): the roadmap's title, what changes from step 12, the published figures and where they stand.
TITLES = {size: f"Isotropic ConvNeXt-{size}" for size in "SBL"}
CHANGES = {
    "S": "A 16x16 patchify stem, then one stage of 18 blocks at width 384 and no downsampling, like ViT-S; "
    "no layer scale.",
    "B": "A 16x16 patchify stem, then one stage of 18 blocks at width 768 and no downsampling, like ViT-B; "
    "no layer scale.",
    "L": "A 16x16 patchify stem, then one stage of 36 blocks at width 1024 and no downsampling, like ViT-L.",
}
# Published (parameters in millions, GFLOPs at 224x224, ImageNet-1K top-1 %), per model.
PAPER = {"S": (22, 4.3, 79.7), "B": (87, 16.9, 82.0), "L": (306, 59.7, 82.6)}  # Liu et al. 2022, Table 2
README = {"S": (22, 4.3, 78.7), "B": (87, 16.9, 82.0), "L": (306, 59.7, 82.6)}  # facebookresearch/ConvNeXt README
SOURCES = {
    size: "Liu et al. 2022, Table 2 (Sec. 3.3); the official README "
    + ("agrees" if README[size] == PAPER[size] else f"has top-1 {README[size][2]}")
    for size in "SBL"
}


class PatchifyStem(nn.Module):
    def __init__(self, in_chans: int, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, kernel_size=16, stride=16, bias=True)  # ViT's 16x16 patches

    def forward(self, x):
        return self.conv(x)  # no norm: the official isotropic stem is the conv alone


CONFIG_S = previous.CONFIG.replace(
    stem=PatchifyStem,
    stem_stride=16,
    stem_dim=384,
    depths=(18,),  # one stage: the stem's 14x14 map all the way to the head
    dims=(384,),
    downsample=None,
    layer_scale_init_value=0.0,  # off for S and B (Appendix A.1)
    drop_path_rate=0.1,
)
CONFIG_B = CONFIG_S.replace(stem_dim=768, dims=(768,), drop_path_rate=0.2)
CONFIG_L = CONFIG_S.replace(stem_dim=1024, depths=(36,), dims=(1024,), layer_scale_init_value=1e-6, drop_path_rate=0.5)
