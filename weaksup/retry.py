"""Deprecated: re-applying failed LFs moved to :mod:`weaksup.apply.reapply` (``retry_failed`` is now
``reapply_failed``, ``Retried`` is ``Reapplied``); this alias goes in the next release."""

from weaksup.deprecated import moved

__getattr__ = moved(__name__, {
    "retry_failed": "weaksup.apply.reapply:reapply_failed",
    "Retried": "weaksup.apply.reapply:Reapplied",
})  # fmt: skip
