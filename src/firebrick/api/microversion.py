"""Microversion negotiation: the ``OpenStack-API-Version: volume 3.X`` header, as Cinder does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from firebrick.domain.errors import FirebrickError

HEADER: Final = "OpenStack-API-Version"
SERVICE: Final = "volume"

_VERSION_RE: Final = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        """``"3.42"`` -> ``APIVersion(3, 42)``; anything else is a 400."""
        match = _VERSION_RE.match(text)
        if match is None:
            raise VersionError(
                400,
                f"API Version String {text} is of invalid format. "
                "Must be of format MajorNum.MinorNum.",
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def matches(self, minimum: APIVersion, maximum: APIVersion | None = None) -> bool:
        """True if ``minimum <= self`` and, when given, ``self <= maximum``."""
        return minimum <= self and (maximum is None or self <= maximum)


MIN: Final = APIVersion(3, 0)
MAX: Final = APIVersion(3, 71)


class VersionError(FirebrickError):
    """The requested microversion is malformed (400) or not supported (406)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def negotiate(header_value: str | None) -> APIVersion:
    """The effective microversion for a request's ``OpenStack-API-Version`` header value.

    No header means the base version 3.0. The first comma-separated entry that mentions
    ``volume`` is used and its second word is the version (``latest`` = the maximum).
    """
    if header_value is None:
        return MIN
    entry = next((part for part in header_value.split(",") if SERVICE in part), None)
    if entry is None:
        # Cinder's wording, including the missing version it could not find.
        raise VersionError(400, "API version None is not supported on this method.")
    words = entry.split()
    if len(words) != 2:
        raise VersionError(
            400,
            f"Invalid {HEADER} header value '{entry.strip()}'. "
            f"Must be of format '{SERVICE} MajorNum.MinorNum'.",
        )
    if words[1] == "latest":
        return MAX
    version = APIVersion.parse(words[1])
    if not version.matches(MIN, MAX):
        raise VersionError(
            406,
            f"Version {version} is not supported by the API. "
            f"Minimum is {MIN} and maximum is {MAX}.",
        )
    return version


def response_header_value(version: APIVersion) -> str:
    """What to echo in the response's ``OpenStack-API-Version`` header."""
    return f"{SERVICE} {version}"
