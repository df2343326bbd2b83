"""One error root with flat subclasses; the library raises, the CLI translates.

Every error carries an exit code (the CLI contract) and, where it has them, structured
problems: what is wrong, where (file, line, column, identifier) and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Exit codes besides each error's own (0 done, 1 rejected, 2 usage, 3 provider):
EXIT_INTERRUPTED = 130  # Ctrl-C: the run stopped and rolled back; the project is as it was
EXIT_INTERNAL = 4  # an unexpected error, i.e. a bug in gen-model


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    rule: str
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    identifier: str | None = None
    suggestion: str | None = None
    highlight: str | None = None
    details: dict = field(default_factory=dict, compare=False)

    def location(self) -> str:
        parts = [self.file or "<proposal>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def format(self) -> str:
        """Render as `file:line:col: [rule] message; did you mean ...?` plus a caret line."""
        text = f"{self.location()}: [{self.rule}] {self.message}"
        if self.suggestion:
            separator = " " if text.endswith((".", "?", "!", ":")) else ". "
            text += f"{separator}{self.suggestion}"
        if self.highlight:
            text += "\n" + self.highlight
        return text

    def to_dict(self) -> dict:
        data = {
            "rule": self.rule,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "identifier": self.identifier,
            "suggestion": self.suggestion,
        }
        if self.details:
            data["details"] = self.details
        return data


class GenModelError(Exception):
    """Root of every error gen-model raises on purpose (no stack trace is shown for these)."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | tuple[Problem, ...] = ()):
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)

    def format(self) -> str:
        lines = [self.message]
        lines.extend(problem.format() for problem in self.problems)
        return "\n".join(lines)


class ConfigError(GenModelError):
    """Usage or configuration is wrong: no API key, not a dbt project, unknown target."""

    exit_code = 2


class ProposalError(GenModelError):
    """A proposal does not match the proposal schema (unknown or missing fields, bad names)."""

    exit_code = 1


class GateError(GenModelError):
    """A proposal was rejected by one or more deterministic gates."""

    exit_code = 1


class BuildError(GenModelError):
    """dbt failed to build or test what was written; everything written was rolled back."""

    exit_code = 1


class WriteError(GenModelError):
    """Files could not be written safely (collision with a hand-written model, a version exists)."""

    exit_code = 1


class LockError(GenModelError):
    """Another gen-model run holds the project lock."""

    exit_code = 2


class ProviderError(GenModelError):
    """The LLM provider failed after its retries (network, overload, bad answers)."""

    exit_code = 3


# What an exception nobody raised on purpose maps to: (exit code, what it means, what to do).
# Looked up along the exception's MRO; anything else is EXIT_INTERNAL, a bug to report.
UNEXPECTED_ERRORS: dict[type[BaseException], tuple[int, str, str]] = {
    OSError: (2, "a file or directory could not be read or written", "Check the path, its permissions and free space"),
    MemoryError: (1, "the input is too large to process", "Make the input smaller"),
    RecursionError: (1, "the input nests too deeply to process", "Nest the input less deeply"),
    UnicodeError: (2, "a file is not UTF-8 text", "Save it as UTF-8, or restore it from git"),
}


def unexpected_error(error: BaseException) -> tuple[int, str, str]:
    """(exit code, meaning, what to do) for an exception gen-model did not raise on purpose."""
    for kind in type(error).__mro__:
        if kind in UNEXPECTED_ERRORS:
            return UNEXPECTED_ERRORS[kind]
    return EXIT_INTERNAL, "unexpected internal error (a bug in gen-model)", "Please report it with the stack trace"
