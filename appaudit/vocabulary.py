"""The registry's words for kinds and audiences, handed to the submission intake."""

from __future__ import annotations

from functools import lru_cache

from registry import values
from registry.records import KIND_OF_IDENTIFIER
from registry.values import InvalidValue
from scanner.submission import SubmissionVocabulary


def submission_vocabulary() -> SubmissionVocabulary:
    """The registry's words for kinds and audiences, handed to the intake."""
    vocab = values.vocabulary()

    def kind_of_identifier(identifier: str) -> str | None:
        try:
            which, _ = values.classify_identifier(identifier)
        except InvalidValue:
            return None
        return KIND_OF_IDENTIFIER[which]

    return SubmissionVocabulary(
        kinds=vocab.kinds,
        kind_of_text=values.kind_of,
        audiences=vocab.audiences,
        kind_of_identifier=kind_of_identifier,
        identify=_identify,
        normalise_filing=_normalise_filing,
    )


@lru_cache(maxsize=1 << 16)
def _identify(identifier: str, kind: str) -> tuple[str, str] | None:
    try:
        return values.classify_identifier(identifier, kind)
    except InvalidValue:
        return None


@lru_cache(maxsize=1 << 12)
def _normalise_filing(text: str) -> str | None:
    try:
        return values.normalise_filing_no(text)
    except InvalidValue:
        return None
