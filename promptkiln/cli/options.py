"""Command-line flags shared by ``make`` and ``serve``: the model, backend and limits, and the
settings they make (flags over environment over config file over defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

BackendOpt = Annotated[
    str | None, typer.Option("--backend", help="Sandbox backend: docker or e2b.")
]
TimeoutOpt = Annotated[
    float | None, typer.Option("--timeout", help="Wall-clock limit for the script, in seconds.")
]
E2BTemplateOpt = Annotated[
    str | None, typer.Option("--e2b-template", help="E2B template for --backend e2b.")
]
RuntimeOpt = Annotated[
    str | None,
    typer.Option("--runtime", help="Container runtime: runc (default) or runsc (gVisor)."),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="litellm model string; default: the bundled local model."),
]
ApiBaseOpt = Annotated[
    str | None, typer.Option("--api-base", help="Base URL of an OpenAI-compatible server.")
]
AttemptsOpt = Annotated[int | None, typer.Option("--attempts", help="Repair attempts (default 3).")]
TemplatesOpt = Annotated[
    Path | None, typer.Option("--templates", help="Directory with your own prompt templates.")
]


def pipeline_settings(
    *,
    model: str | None,
    api_base: str | None,
    backend: str | None,
    attempts: int | None,
    timeout: float | None,
    runtime: str | None,
    e2b_template: str | None,
    templates: Path | None,
    **extra: Any,
) -> Any:
    """The settings ``make`` and ``serve`` run the pipeline with (``extra``: more overrides)."""
    from promptkiln.config import load_settings

    return load_settings(
        model=model,
        api_base=api_base,
        backend=backend,
        attempts=attempts,
        runtime=runtime,
        templates_dir=templates,
        limits={"timeout": timeout},
        e2b={"template": e2b_template},
        **extra,
    )
