"""The apply step: LFs → votes, in memory or into the vote store.

- :mod:`.kinds`: the LF kinds (row-wise, vectorized, prompted, recorded answers), one module each
  on one contract, and their registry;
- :mod:`.checks`: the checks of one LF return value per label type;
- :mod:`.chunks`: one chunk's votes from a mixed LF set, and :func:`apply_lfs` over a frame;
- :mod:`.store_applier`: :func:`apply_to_store`, each LF version from its watermark, on an engine
  (:mod:`weaksup.engines`), committed chunk by chunk;
- :mod:`.reapply`: :func:`reapply_failed`, asking LFs again on the examples they failed on.

Names are imported on first use, so that the engines (which apply chunks) and the store applier
(which runs on an engine) can each import the part of this package they build on.
"""

from __future__ import annotations

from weaksup.lazy import lazy_exports

_HOMES = {
    "ApplyContext": "weaksup.apply.kinds",
    "LFApplicationError": "weaksup.apply.checks",
    "LFOutput": "weaksup.apply.kinds",
    "LF_KINDS": "weaksup.apply.kinds",
    "ApplyResult": "weaksup.apply.chunks",
    "apply_chunk": "weaksup.apply.chunks",
    "apply_lfs": "weaksup.apply.chunks",
    "check_frame": "weaksup.apply.chunks",
    "kind_of": "weaksup.apply.kinds",
    "outputs_to_frames": "weaksup.apply.chunks",
    "prepare_lfs": "weaksup.apply.chunks",
    "progress_disabled": "weaksup.apply.chunks",
    "StoreApplyStats": "weaksup.apply.store_applier",
    "apply_to_store": "weaksup.apply.store_applier",
    "Reapplied": "weaksup.apply.reapply",
    "reapply_failed": "weaksup.apply.reapply",
}
__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)
