"""The public API is exactly __all__, and every error class roots at PromptkilnError."""

from __future__ import annotations

import inspect

import promptkiln
from promptkiln import errors


def test_all_is_pinned() -> None:
    assert promptkiln.__all__ == [
        "Artifact",
        "Client",
        "InputFile",
        "Limits",
        "MakeResult",
        "PromptkilnError",
        "Rejection",
        "RunResult",
        "SandboxRun",
        "Settings",
        "__version__",
        "load_settings",
        "make",
        "run_in_sandbox",
    ]
    for name in promptkiln.__all__:
        assert hasattr(promptkiln, name), name


def test_every_error_roots_at_promptkiln_error_and_has_an_exit_code() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, Exception)
    ]
    assert len(classes) > 15
    codes = set()
    for cls in classes:
        assert issubclass(cls, errors.PromptkilnError), cls
        assert isinstance(cls.exit_code, int) and 0 < cls.exit_code < 256
        codes.add(cls.exit_code)
    assert {1, 64, 65, 70, 73, 124, 125} <= codes


def test_error_docstring_draws_every_class() -> None:
    tree = errors.__doc__ or ""
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, Exception):
            assert name in tree, f"{name} missing from the tree in errors.py's docstring"
