"""The registry's words for kinds and audiences, handed to the submission intake."""

from __future__ import annotations

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
    )
