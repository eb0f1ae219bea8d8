"""images/ as an E2B template: the same Dockerfile, built by E2B's template builder.

``promptkiln image e2b-template`` calls :func:`build_template`; ``--check`` (and the test suite)
calls :func:`check_dockerfile`, which works offline: it converts the Dockerfile with the e2b
SDK's own converter (``Template().from_dockerfile``), serialises the result (which hashes every
file a COPY names, so missing context files show up), and fails on what E2B does not support:

* more than one ``FROM`` (single-stage only), instructions or flags the converter drops
  (``HEALTHCHECK``, ``SHELL``, ``ONBUILD``, ``RUN --mount`` ...: it only prints a warning for
  those, so they are caught from its output), ``COPY --from``;
* a base image that is not a public Debian or Ubuntu image (E2B pulls it from a registry; a
  local-only base such as the offline ``promptkiln-base`` cannot be used);
* no explicit ``USER user`` and ``WORKDIR /home/user/work`` at the end (the sandbox contract);
* anything that installs or starts ``envd`` (E2B puts its own into every sandbox).

Rendering for E2B: ``FROM ${BASE}`` is resolved with the ``ARG`` default (the converter keeps
``$VAR`` in FROM as is), and COPY sources that are globs matching nothing in the context (the
optional ``wheelhouse*``) are dropped, since the builder refuses empty globs; E2B builds with
network access, so the Dockerfile's package-index path is used.
"""

from __future__ import annotations

import contextlib
import glob
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln.errors import ImageError
from promptkiln.sandbox.base import WORKDIR

if TYPE_CHECKING:
    from promptkiln.config import Settings

DEFAULT_TEMPLATE = "promptkiln-docs"
SANDBOX_USER = "user"
#: Public base images E2B can pull and that keep the template Debian-based.
DEBIAN_BASES = re.compile(
    r"^(docker\.io/)?(library/)?(debian|ubuntu)(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$"
)
_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?\s*$", re.IGNORECASE)
_FROM = re.compile(r"^(\s*FROM\s+)(\S+)(.*)$", re.IGNORECASE)
_COPY = re.compile(r"^(\s*COPY\s+)(.*)$", re.IGNORECASE)
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


@dataclass(frozen=True)
class Problem:
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class Checked:
    """The Dockerfile as E2B will build it, the converted template, and what is wrong."""

    rendered: str
    base_image: str | None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    template: Any = None  #: the SDK's TemplateBuilder, when the conversion succeeded

    @property
    def ok(self) -> bool:
        return not self.problems


def render(
    text: str, context: Path | None, build_args: dict[str, str] | None = None
) -> tuple[str, list[str]]:
    """Resolve ``$ARG`` in FROM and drop COPY globs that match nothing; return text and notes."""
    args: dict[str, str] = {}
    notes: list[str] = []
    out: list[str] = []
    seen_from = False
    for raw in text.splitlines():
        line = raw
        arg = _ARG.match(line)
        if arg and not seen_from:
            args[arg.group(1)] = (build_args or {}).get(arg.group(1), arg.group(2) or "")
        match = _FROM.match(line)
        if match:
            seen_from = True
            image = _VAR.sub(lambda m: args.get(m.group(1), m.group(0)), match.group(2))
            if image != match.group(2):
                notes.append(f"FROM {match.group(2)} resolved to {image}")
                line = f"{match.group(1)}{image}{match.group(3)}"
        copy = _COPY.match(line)
        if copy and context is not None and not copy.group(2).lstrip().startswith("["):
            words = copy.group(2).split()
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            sources, dest = paths[:-1], paths[-1:]
            kept = [
                s for s in sources if not (glob.has_magic(s) and not glob.glob(str(context / s)))
            ]
            if len(kept) != len(sources) and kept:
                dropped = sorted(set(sources) - set(kept))
                notes.append(f"COPY: no files match {', '.join(dropped)}; left out")
                line = copy.group(1) + " ".join([*flags, *kept, *dest])
        out.append(line)
    return "\n".join(out) + "\n", notes


def check_dockerfile(
    text: str, *, context: Path | None = None, build_args: dict[str, str] | None = None
) -> Checked:
    """Convert ``text`` with the SDK's converter (offline) and list what E2B cannot build."""
    from e2b import Template
    from e2b.template.dockerfile_parser import DockerfileSyntaxError

    rendered, notes = render(text, context, build_args)
    checked = Checked(rendered, None, notes=notes)
    problems = checked.problems
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            builder = Template(file_context_path=str(context or ".")).from_dockerfile(rendered)
            if context is not None:
                Template.to_json(builder)  # hashes every COPY source: missing files fail here
    except DockerfileSyntaxError as exc:
        problems.append(Problem(str(exc), getattr(exc, "line", None)))
        builder = None
    except (ValueError, OSError) as exc:
        problems.append(Problem(f"the template builder refuses it: {exc}"))
        builder = None
    for warning in printed.getvalue().splitlines():
        if warning.strip():
            problems.append(Problem(f"E2B's converter drops this: {warning.strip()}"))
    checked.template = builder
    _structure(rendered, checked)
    return checked


def _structure(rendered: str, checked: Checked) -> None:
    problems = checked.problems
    users: list[str] = []
    workdirs: list[str] = []
    for number, line in enumerate(rendered.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        keyword = words[0].upper()
        if keyword == "FROM" and len(words) > 1:
            checked.base_image = words[1]
            if not DEBIAN_BASES.match(words[1]):
                problems.append(
                    Problem(
                        f"base image {words[1]!r} is not a public Debian or Ubuntu image E2B "
                        "can pull (build with --build-arg BASE=debian:bookworm-slim)",
                        number,
                    )
                )
        elif keyword == "USER" and len(words) > 1:
            users.append(words[1])
        elif keyword == "WORKDIR" and len(words) > 1:
            workdirs.append(words[1])
        elif keyword in ("COPY", "ADD") and any(w.startswith("--from") for w in words):
            problems.append(
                Problem("COPY --from needs another stage or image: not supported", number)
            )
        if re.search(r"\benvd\b", line) and keyword in ("RUN", "COPY", "ADD", "CMD", "ENTRYPOINT"):
            problems.append(Problem("E2B provides envd itself; do not install or start it", number))
    if not users or users[-1] != SANDBOX_USER:
        problems.append(Problem(f"the Dockerfile must end as an explicit `USER {SANDBOX_USER}`"))
    if not workdirs or workdirs[-1] != WORKDIR:
        problems.append(Problem(f"the Dockerfile must end in an explicit `WORKDIR {WORKDIR}`"))


def default_dockerfile() -> Path:
    from promptkiln.image.status import images_dir

    return images_dir() / "Dockerfile"


def resources(settings: Settings) -> tuple[int, int]:
    """CPU count and memory (MiB) for the template, from the limits (E2B sets them per template)."""
    limits = settings.limits
    cpus = max(1, math.ceil(limits.cpus))
    memory_mb = max(512, math.ceil(limits.memory / 2**20))
    return cpus, memory_mb + memory_mb % 2  # E2B wants an even number of MiB


def build_template(
    settings: Settings,
    *,
    dockerfile: Path | None = None,
    name: str | None = None,
    build_args: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Any:
    """Build the Dockerfile as an E2B template named ``name`` (default: ``settings.e2b.template``).

    Returns the SDK's BuildInfo. Raises ImageError when the offline check fails, and the
    backend's translated errors (auth, quota, network) when E2B does.
    """
    from e2b import Template

    from promptkiln.sandbox.e2b_errors import translate_errors
    from promptkiln.sandbox.e2b_ops import api_options

    path = dockerfile or default_dockerfile()
    checked = check_dockerfile(path.read_text(), context=path.parent, build_args=build_args)
    for note in checked.notes:
        progress(note)
    if not checked.ok or checked.template is None:
        raise ImageError(
            f"{path} cannot be built as an E2B template: "
            + "; ".join(str(p) for p in checked.problems),
            image=name or settings.e2b.template,
            hint="fix the Dockerfile (single stage, Debian base, USER user, WORKDIR "
            f"{WORKDIR}, no envd), then run `promptkiln image e2b-template --check`",
        )
    cpus, memory_mb = resources(settings)
    target = name or settings.e2b.template
    progress(f"building E2B template {target} ({cpus} CPUs, {memory_mb} MiB) from {path}")

    def log(entry: Any) -> None:
        progress(str(getattr(entry, "message", entry)))

    opts = api_options(settings)
    with translate_errors(f"building the E2B template {target}"):
        return Template.build(
            checked.template,
            target,
            cpu_count=cpus,
            memory_mb=memory_mb,
            on_build_logs=log,
            **opts,
        )


__all__ = ["Checked", "Problem", "build_template", "check_dockerfile", "render", "resources"]
