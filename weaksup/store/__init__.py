"""The vote store: the only code in weaksup that reads or writes the store's tables with SQL.

One DuckDB file per project holds examples, LFs, votes, runs, labels and the LLM cache.
:mod:`.schema` creates the tables, versions them and migrates older files;
:mod:`.vote_store` is the door (:class:`VoteStore`): examples, LF versions, votes, runs
and labels go in and out through its methods, in bulk as Arrow, with parametrized SQL;
:mod:`.runs` (run records) and :mod:`.typed_votes` (ranking and real-valued votes) are mixins
of it, and :mod:`.llm_cache` keeps the LLM response cache and usage; :mod:`.reports` holds
the queries of the LF report (runs, labels, LF versions, errors, label changes between runs).
"""

from weaksup.store.runs import RunError, key_ranges
from weaksup.store.schema import SCHEMA_VERSION
from weaksup.store.vote_store import CRASH_ENV, StoreError, SyncResult, VoteStore, crash_point

__all__ = ["CRASH_ENV", "SCHEMA_VERSION", "RunError", "StoreError", "SyncResult", "VoteStore", "crash_point", "key_ranges"]
