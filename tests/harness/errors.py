"""The harness's own failures, as opposed to the guest's: a run it could not set up."""

from __future__ import annotations


class HarnessError(RuntimeError):
    """The harness could not set up a run (as opposed to the guest failing)."""


class MissingBuildError(HarnessError):
    """A chapter's disk image has not been built."""
