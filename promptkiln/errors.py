"""The promptkiln error tree.

Every error the platform raises on purpose derives from :class:`PromptkilnError`, carries its data
as attributes, and has a message that says what to do next. Lower-level errors (docker, e2b,
litellm, OS errors) are translated at the boundary that meets them, with ``raise ... from exc``.

    PromptkilnError                     exit code 70 unless a subclass says otherwise
    ├── ConfigError                     bad settings or flags                         (64)
    ├── UsageError                      bad input from the user: missing script, bad file (64)
    │   └── BundleError                 an air-gap bundle is corrupt, truncated or tampered
    ├── PlatformError                   the machinery failed, not the script           (70)
    │   ├── EngineError                 the container engine is missing or failed
    │   ├── ImageError                  the sandbox image is missing or cannot be built
    │   ├── BackendNotFound             no backend registered under that name
    │   └── BackendUnavailable          the backend's SDK is not installed or not reachable
    │       └── BackendAtCapacity       the sandbox cluster refused: at capacity, rate limited
    ├── SandboxError                    the sandbox ended the run
    │   ├── SandboxTimeout              wall-clock limit hit, sandbox killed            (124)
    │   └── LimitExceeded               memory / process / disk limit hit               (125)
    ├── ScriptFailed                    the script exited non-zero                      (1)
    ├── OutputError                     output could not be delivered                   (73)
    │   ├── OutputRejected              every output was rejected by collection rules   (65)
    │   └── DestinationError            --out is not writable, is a link, disk full     (73)
    ├── ExtractionError                 no usable script in the model's response        (66)
    └── GenerationError                 the model could not be reached or answered badly (69)
        ├── ModelAuthError              bad or missing API key
        ├── ModelNotFound               unknown model name
        ├── ModelRateLimited            provider rate limit / quota
        ├── ModelUnavailable            server down, timeout, network failure
        ├── LocalModelError             the bundled model cannot be assembled or served
        ├── ContextOverflow             the request did not fit the model's context window
        └── AttemptsExhausted           the repair loop ran out of attempts

A script that exits non-zero inside a run is a :class:`~promptkiln.sandbox.base.RunResult`, not
an exception, so the repair loop can use it; the CLI turns the final outcome into the exit code.
"""

from __future__ import annotations


class PromptkilnError(Exception):
    """Root of every error promptkiln raises on purpose."""

    exit_code: int = 70

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {self.hint}"
        return self.message


class ConfigError(PromptkilnError):
    exit_code = 64


class UsageError(PromptkilnError):
    exit_code = 64


class BundleError(UsageError):
    """An air-gap bundle failed its check; ``member`` names the first bad member ("" for the
    archive as a whole)."""

    def __init__(self, message: str, *, member: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.member = member


class PlatformError(PromptkilnError):
    exit_code = 70


class EngineError(PlatformError):
    """The container engine is not installed, not running, or failed mid-run."""


class ImageError(PlatformError):
    """The sandbox image is missing or could not be built."""

    def __init__(self, message: str, *, image: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.image = image


class BackendNotFound(PlatformError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"no sandbox backend named {name!r}",
            hint=f"choose one of: {', '.join(sorted(known))}",
        )
        self.name = name
        self.known = known


class BackendUnavailable(PlatformError):
    """The backend's optional SDK is not installed, or its service cannot be reached."""


class BackendAtCapacity(BackendUnavailable):
    """The sandbox cluster is reachable but refused a new sandbox: it is at capacity (E2B's
    429 "sandbox limit" or 503). Nothing was started; the same request can succeed later."""


class SandboxError(PromptkilnError):
    exit_code = 70


class SandboxTimeout(SandboxError):
    exit_code = 124

    def __init__(
        self, seconds: float, *, message: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(
            message or f"the script ran longer than {seconds:g} s and the sandbox was killed",
            hint=hint or "make the script faster or raise the limit with --timeout",
        )
        self.seconds = seconds


class LimitExceeded(SandboxError):
    exit_code = 125

    def __init__(self, limit: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.limit = limit


class ScriptFailed(PromptkilnError):
    exit_code = 1

    def __init__(self, exit_status: int, stderr_tail: str) -> None:
        super().__init__(
            f"the script exited with status {exit_status}",
            hint="its stderr says where it failed; fix the script and run again",
        )
        self.exit_status = exit_status
        self.stderr_tail = stderr_tail


class OutputError(PromptkilnError):
    exit_code = 73
    #: The finished run whose outputs could not be delivered (its stdout/stderr), when known.
    run_result: object | None = None


class OutputRejected(OutputError):
    exit_code = 65


class DestinationError(OutputError):
    exit_code = 73

    def __init__(self, message: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class ExtractionError(PromptkilnError):
    """No usable Python script could be taken from a model response.

    ``kind`` names the reason: ``no_code_block``, ``no_python_block``, ``unterminated_fence``,
    ``multiple_code_blocks``, ``empty_code_block``, ``syntax_error``, ``response_too_large``.
    """

    exit_code = 66

    def __init__(
        self, kind: str, message: str, *, hint: str | None = None, source: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        #: For ``syntax_error``: the block's code that did not parse (never executed).
        self.source = source


class GenerationError(PromptkilnError):
    exit_code = 69


class ModelAuthError(GenerationError):
    pass


class ModelNotFound(GenerationError):
    pass


class ModelRateLimited(GenerationError):
    pass


class ModelUnavailable(GenerationError):
    pass


class LocalModelError(GenerationError):
    pass


class ContextOverflow(GenerationError):
    """The request did not fit the model's context window; the repair loop trims and retries."""


class AttemptsExhausted(GenerationError):
    exit_code = 1

    def __init__(self, attempts: int, last_problem: str, *, budget: float | None = None) -> None:
        if budget is None:
            super().__init__(
                f"no attempt out of {attempts} produced the requested files; "
                f"last problem: {last_problem}",
                hint="rephrase the prompt, raise --attempts, or try a stronger --model",
            )
        else:
            super().__init__(
                f"no attempt out of {attempts} produced the requested files, and another would "
                f"have run past the {budget:g} s time budget; last problem: {last_problem}",
                hint="rephrase the prompt, raise --time-budget (0: no budget), "
                "or try a stronger --model",
            )
        self.attempts = attempts
        self.budget = budget
        self.last_problem = last_problem
