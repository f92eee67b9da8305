"""Deprecated: :func:`apply_to_store` moved to :mod:`weaksup.apply`; this alias goes in the next release."""

from weaksup.deprecated import moved

__getattr__ = moved(__name__, {
    "apply_to_store": "weaksup.apply.store_applier:apply_to_store",
    "StoreApplyStats": "weaksup.apply.store_applier:StoreApplyStats",
})  # fmt: skip
