"""The ComposerError family: every failure a user can cause ends in one of these.

The CLI turns any ComposerError into one line on stderr and exit code 1, so messages
must name the culprit (file, value, line) and read well on their own.
"""

from __future__ import annotations

__all__ = [
    "ComposerError",
    "InputError",
    "MidiError",
    "CorpusError",
    "CheckpointError",
    "StyleError",
    "TokenizerError",
]


class ComposerError(Exception):
    """Base of every error composer raises on purpose."""


class InputError(ComposerError):
    """A bad argument or option value (unknown key name, impossible bar count, ...)."""


class MidiError(ComposerError):
    """A MIDI file that cannot be read or written."""


class CorpusError(ComposerError):
    """A corpus that cannot be built (no usable file at all, missing folder, ...)."""


class CheckpointError(ComposerError):
    """A checkpoint that is missing, malformed, or does not match its config."""


class StyleError(ComposerError):
    """An unknown style name or a style that cannot do what was asked."""


class TokenizerError(ComposerError):
    """Music the tokenizer cannot represent (wrong meter, no melody, ...)."""
