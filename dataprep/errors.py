"""Errors that reach the user as a plain sentence, never as a traceback."""

import difflib


class DataprepError(Exception):
    """A problem the user can fix: bad input, a bad config, a missing file.

    The CLI prints the message and exits with ``exit_code`` (2 for usage and
    config errors) without a traceback.
    """

    exit_code = 1


class ConfigError(DataprepError):
    """The pipeline file or a stage's options are invalid."""

    exit_code = 2


class InputError(DataprepError):
    """An input file cannot be read at all (as opposed to one bad record in it)."""

    exit_code = 2


def bug_tracker() -> str:
    """Where to report a bug: the installed package's ``Issues`` project URL, if it names one."""
    from importlib import metadata

    try:
        urls = metadata.metadata("dataprep").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("issues", "bug tracker", "bugs"):
            return url.strip()
    return "the issue tracker of the dataprep repository you installed it from"


def suggest(word: str, choices: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or an empty string.

    Callers end their sentence right after it.
    """
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
