"""Read the Dockerfile as ``docker build`` does and lay its final stage out on this machine.

The helper lives in ``bench/image_layout.py`` (the bench serves the image's command too, and the
bench does not import the tests); the tests import it from here.
"""

from bench.image_layout import (
    BASE_IMAGE_ENV,
    BUILD_RUN_TIMEOUT_S,
    DOCKERFILE,
    DOCKERIGNORE,
    ROOT,
    VENV,
    DockerIgnore,
    ImageLayout,
    Stage,
    env_pairs,
    expand,
    final_layout,
    stages,
)

__all__ = [
    "BASE_IMAGE_ENV",
    "BUILD_RUN_TIMEOUT_S",
    "DOCKERFILE",
    "DOCKERIGNORE",
    "ROOT",
    "VENV",
    "DockerIgnore",
    "ImageLayout",
    "Stage",
    "env_pairs",
    "expand",
    "final_layout",
    "stages",
]
