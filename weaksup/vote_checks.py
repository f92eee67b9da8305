"""Deprecated: the vote checks moved to :mod:`weaksup.apply.checks` (``CHECKS`` is now ``VOTE_CHECKS``);
this alias goes in the next release."""

from weaksup.deprecated import moved

__getattr__ = moved(__name__, {
    "CHECKS": "weaksup.apply.checks:VOTE_CHECKS",
    "VOTE_COLUMN": "weaksup.apply.checks:VOTE_COLUMN",
    "LFApplicationError": "weaksup.apply.checks:LFApplicationError",
})  # fmt: skip
