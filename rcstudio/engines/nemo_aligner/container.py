"""Does a container image bundle the NeMo-Aligner rcstudio compiles for (v0.7.0)?

NVIDIA's NeMo containers (`nvcr.io/nvidia/nemo:YY.MM`) carry NeMo-Aligner under /opt/NeMo-Aligner;
those tagged before 25.03 predate the v0.7.0 tag (2025-03-12), so their Aligner is older (24.12
included). No public image is pinned to v0.7.0 here, so the supported route is building one from
the v0.7.0 Dockerfile. Note that Dockerfile's `ARG ALIGNER_COMMIT=main`: pass the tag explicitly.
"""

from __future__ import annotations

import re

PINNED = "0.7.0"
TAG_DATE = (25, 3)  # v0.7.0 was tagged 2025-03-12
BUILD_HINT = ("build one from the v0.7.0 Dockerfile: git clone -b v0.7.0 https://github.com/NVIDIA/NeMo-Aligner && "
              "docker buildx build --build-arg ALIGNER_COMMIT=v0.7.0 -t nemo-aligner:0.7.0 NeMo-Aligner "
              "(docs/architecture.md, NeMo-Aligner v0.7.0 semantics)")


def image_warning(image: str) -> str | None:
    """A warning when `image` does not (visibly) bundle NeMo-Aligner v0.7.0; None when it does."""
    if not image:
        return None
    tag = image.rsplit("/", 1)[-1]
    m = re.fullmatch(r"nemo:(\d{2})\.(\d{2})(?:[.-].*)?", tag)
    if m and (int(m.group(1)), int(m.group(2))) < TAG_DATE:
        return (f"cluster.container_image {image!r} predates NeMo-Aligner v{PINNED} (tagged 2025-03-12): its "
                f"/opt/NeMo-Aligner is an older release than the one rcstudio compiles for; {BUILD_HINT}")
    versions = re.findall(r"(?<![\d.])v?(\d+\.\d+\.\d+)(?![\d.])", tag.split(":", 1)[-1] if ":" in tag else "")
    if PINNED in versions:
        return None
    if versions:
        return (f"cluster.container_image {image!r} names version {versions[0]}, not NeMo-Aligner v{PINNED}; "
                f"{BUILD_HINT}")
    return (f"cannot tell which NeMo-Aligner cluster.container_image {image!r} bundles (rcstudio compiles for "
            f"v{PINNED}); use an image whose tag names {PINNED}, or {BUILD_HINT}")
