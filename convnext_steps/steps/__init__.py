"""The roadmap's steps, one module each, in the paper's order (Table 10 / Fig. 2).

Each module holds only what its step introduces and imports the rest from the step before it;
`rewrites` holds the one equivalent rewrite (same outputs) that the final block is written on top of.
`convnext_steps.design_diff(step)` shows what a step changes.
The `ext_*` modules go past the paper's roadmap, each written on top of step 12 (`roadmap.EXTENSIONS`).
"""

from . import (
    ext_isotropic,
    ext_v2_grn,
    rewrites,
    step00_resnet50,
    step01_stage_ratio,
    step02_patchify_stem,
    step03_depthwise_conv,
    step04_wider_96,
    step05_inverted_bottleneck,
    step06_dwconv_up,
    step07_kernel_7x7,
    step08_gelu,
    step09_fewer_activations,
    step10_fewer_norms,
    step11_layernorm,
    step12_separate_downsampling,
)

__all__ = [
    "step00_resnet50",
    "step01_stage_ratio",
    "step02_patchify_stem",
    "step03_depthwise_conv",
    "step04_wider_96",
    "step05_inverted_bottleneck",
    "step06_dwconv_up",
    "step07_kernel_7x7",
    "step08_gelu",
    "step09_fewer_activations",
    "step10_fewer_norms",
    "step11_layernorm",
    "step12_separate_downsampling",
    "rewrites",
    "ext_isotropic",
    "ext_v2_grn",
]
