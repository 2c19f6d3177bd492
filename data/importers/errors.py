"""Exceptions and limits of the importers."""

from __future__ import annotations

import os

from data.importers.messages import msg

DEFAULT_MAX_UPLOAD_MB = 200.0
ZIP_EXPANSION_FACTOR = 10  # a zip may unpack to at most this many times the upload limit


class ImportError_(Exception):  # the underscore keeps it apart from builtins.ImportError
    """A whole file that cannot be imported; the store stays unchanged.

    Carries a message key and its parameters so the text can be shown in German or
    English (:meth:`message`); ``str(exc)`` is the English text (for logs).
    """

    exit_code = 1

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "de") -> str:
        return msg(self.key, lang, **self.params)


class UsageError_(ImportError_):
    """The request itself is wrong (unknown data set, bad mapping): exit code 2."""

    exit_code = 2


def max_upload_bytes(limit_mb: float | None = None) -> int:
    """The upload limit in bytes: ``limit_mb``, else env ``LAGEBILD_MAX_UPLOAD_MB``, else 200."""
    if limit_mb is None:
        text = os.environ.get("LAGEBILD_MAX_UPLOAD_MB", "").strip()
        if text:
            try:
                limit_mb = float(text)
            except ValueError:
                raise ValueError(
                    f"LAGEBILD_MAX_UPLOAD_MB must be a number of megabytes, got {text!r}") from None
        else:
            limit_mb = DEFAULT_MAX_UPLOAD_MB
    if limit_mb <= 0:
        raise ValueError(f"upload limit must be positive, got {limit_mb!r} MB")
    return int(limit_mb * 1024 * 1024)
