"""Read the Dockerfile as ``docker build`` does and lay its final stage out on this machine.

The Dockerfile is parsed by BuildKit's own parser (the ``dockerfile`` package wraps it), so line
continuations, exec-form JSON and flags mean here what they mean to Docker. ``ImageLayout``
stands in for the image: a temporary directory plays its ``/``, the final stage's ``COPY`` lines
copy from the build context (what ``.dockerignore`` lets through) into it, the virtualenv the
builder stage makes is this machine's ``.venv``, and ``ENV`` values naming image paths are mapped
into the temporary root. Its exec-form ``RUN`` lines that run the image's Python (the build-time
warm-up) run here too, in order, with the environment they would have; shell-form ones (users,
permissions, cleaning up) do not. After ``USER``, ``HOME`` is the user's home from ``useradd``,
made so that nothing can be created under it, as in the image. What the image would lack, the
layout lacks.

``bench.configs --starts`` serves the image's command this way; the image-command tests
(``tests/support/dockerfile.py`` re-exports this module) check it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import dockerfile

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
VENV = (ROOT / ".venv").resolve()
# What the python base image's own environment contributes, as far as the service cares.
BASE_IMAGE_ENV = {"LANG": "C.UTF-8"}
BUILD_RUN_TIMEOUT_S = 600
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass
class Stage:
    """One FROM ... section: its base, its name and its instructions in order."""

    base: str
    name: str | None
    commands: list[dockerfile.Command] = field(default_factory=list)

    def all(self, instruction: str) -> list[dockerfile.Command]:
        """Every instruction of one kind (``ENV``, ``COPY``...), in order."""
        return [c for c in self.commands if c.cmd == instruction.upper()]

    def last(self, instruction: str) -> dockerfile.Command | None:
        """The instruction of one kind that takes effect (the last), if any."""
        found = self.all(instruction)
        return found[-1] if found else None


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The Dockerfile's stages, with global ARG defaults substituted into FROM."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "ARG" and not result:
            name, _, default = command.value[0].partition("=")
            args[name] = default
        elif command.cmd == "FROM":
            base = expand(command.value[0], args)
            name = command.value[2] if len(command.value) == 3 else None
            result.append(Stage(base=base, name=name))
        elif result:
            result[-1].commands.append(command)
    return result


def expand(value: str, env: dict[str, str]) -> str:
    """Substitute ``$VAR`` and ``${VAR}`` as Docker does in ENV, WORKDIR and FROM."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def env_pairs(command: dockerfile.Command) -> Iterator[tuple[str, str]]:
    """The (name, raw value) pairs of one ``ENV`` line, quotes removed."""
    values = command.value
    for name, raw in zip(values[::2], values[1::2], strict=True):
        yield name, shlex.split(raw)[0] if raw else ""


class DockerIgnore:
    """The build context's filter: Docker's rules (last matching pattern wins, ``!`` re-includes,
    a match on a parent folder covers what is inside it, ``*`` stays within one folder)."""

    def __init__(self, path: Path = DOCKERIGNORE) -> None:
        self.patterns: list[tuple[bool, re.Pattern[str]]] = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").lstrip("/"))
            self.patterns.append((include, re.compile(_glob_to_regex(pattern))))

    def excludes(self, relative: str) -> bool:
        """Whether a path relative to the context root is left out of the build context."""
        parts = PurePosixPath(relative).parts
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for include, pattern in self.patterns:
            if any(pattern.fullmatch(c) for c in candidates):
                excluded = not include
        return excluded


def _glob_to_regex(pattern: str) -> str:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


class ImageLayout:
    """The final stage laid out under ``root``: files, working directory, environment, command."""

    def __init__(self, root: Path, stage: Stage, builder: Stage) -> None:
        self.root = root
        self.stage = stage
        self._builder = builder
        self._ignore = DockerIgnore()
        self.workdir = "/"
        self.venv: str | None = None
        """Where the builder's virtualenv lies in the image (this machine's .venv, linked)."""
        # The build runs as root; the image's /tmp is the layout's.
        self.env: dict[str, str] = {
            "PATH": os.environ["PATH"],
            **BASE_IMAGE_ENV,
            "HOME": str(self.host("/root")),
            "TMPDIR": str(self.host("/tmp")),
        }
        self.host("/root").mkdir(parents=True)
        self.host("/tmp").mkdir()
        for command in stage.commands:
            if command.cmd == "WORKDIR":
                self.workdir = str(PurePosixPath(self.workdir, expand(command.value[0], self.env)))
                self.host(self.workdir).mkdir(parents=True, exist_ok=True)
            elif command.cmd == "ENV":
                for name, raw in env_pairs(command):
                    self.env[name] = expand(self._map_paths(raw), self.env)
            elif command.cmd == "COPY":
                self._copy(command)
            elif command.cmd == "RUN" and command.json and command.value[0] == "python":
                self._run(command)
            elif command.cmd == "USER":
                self.env["HOME"] = str(self._homeless())

    def host(self, image_path: str) -> Path:
        """Where an absolute path of the image lies on this machine."""
        return self.root / image_path.lstrip("/")

    def argv(self, exec_form: tuple[str, ...]) -> list[str]:
        """An exec-form command as the image runs it: the program found on the image's PATH."""
        program = shutil.which(exec_form[0], path=self.env["PATH"])
        assert program, f"{exec_form[0]} is not on the image's PATH {self.env['PATH']}"
        venv = self.host(self.venv) if self.venv else None
        if venv and Path(program).is_relative_to(venv):
            # As the virtualenv's scripts do (their #! names .venv), so that python and gunicorn
            # see one sys.prefix, as both see /opt/venv in the image: numba keys its cache by
            # the source files' folder.
            program = str(VENV / Path(program).relative_to(venv))
        return [program, *exec_form[1:]]

    @property
    def cwd(self) -> Path:
        """The final WORKDIR, where CMD runs."""
        return self.host(self.workdir)

    def _run(self, command: dockerfile.Command) -> None:
        done = subprocess.run(
            self.argv(command.value),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=BUILD_RUN_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, f"RUN {command.value}:\n{done.stdout}\n{done.stderr}"

    def _homeless(self) -> Path:
        # Docker sets HOME from the user's passwd entry; the image's user has a home that does not
        # exist and cannot be made. A file in its place refuses mkdir even to root, here.
        made = " ".join(" ".join(c.value) for c in self.stage.all("RUN"))
        found = re.search(r"--home-dir (/\S+)", made)
        assert found, "the runtime stage's useradd names no --home-dir"
        home = self.host(found.group(1))
        home.parent.mkdir(parents=True, exist_ok=True)
        home.touch()
        return home

    def _map_paths(self, value: str) -> str:
        # PATH-like lists too: each absolute item is an image path, "$PATH" is left to expand.
        return ":".join(
            str(self.host(item)) if item.startswith("/") else item for item in value.split(":")
        )

    def _copy(self, command: dockerfile.Command) -> None:
        *sources, dest = command.value
        from_stage = [f.split("=", 1)[1] for f in command.flags if f.startswith("--from=")]
        if from_stage:
            self._copy_from_builder(from_stage[0], sources, dest)
            return
        dest_path = PurePosixPath(self.workdir, dest)
        into_dir = dest.endswith("/") or len(sources) > 1
        for source in sources:
            src = ROOT / source
            assert src.exists(), f"COPY {source}: not in the repository"
            assert not self._ignore.excludes(source.rstrip("/")), f"COPY {source}: .dockerignored"
            if src.is_dir():
                self._copy_tree(src, self.host(str(dest_path)))
            else:
                target = dest_path / src.name if into_dir else dest_path
                self._copy_file(src, self.host(str(target)))

    def _copy_from_builder(self, stage: str, sources: list[str], dest: str) -> None:
        # The builder's only product is the virtualenv; this machine's .venv has the same pins.
        assert stage == self._builder.name, f"COPY --from={stage}: unknown stage"
        made = [" ".join(c.value) for c in self._builder.all("RUN")]
        assert sources == [dest] and any(f"venv {dest}" in run for run in made), (
            f"COPY --from={stage} {sources} {dest}: only the builder's virtualenv is understood"
        )
        link = self.host(dest)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(VENV, target_is_directory=True)
        self.venv = dest

    def _copy_tree(self, src: Path, dest: Path) -> None:
        for path in sorted(src.rglob("*")):
            if path.is_file() and not self._ignore.excludes(str(path.relative_to(ROOT))):
                self._copy_file(path, dest / path.relative_to(src))

    @staticmethod
    def _copy_file(src: Path, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def final_layout(root: Path) -> ImageLayout:
    """The image's final stage laid out under ``root``."""
    all_stages = stages()
    builders = [s for s in all_stages[:-1] if s.name]
    return ImageLayout(root, all_stages[-1], builders[0])
