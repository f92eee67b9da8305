"""The vote store: the only code in weaksup that reads or writes the store's tables with SQL.

One DuckDB file per project holds examples, LFs, votes, runs, labels and the LLM cache.
:class:`VoteStore` (:mod:`.vote_store`) is composed of one object per family of tables, each with
a small typed surface: :mod:`.examples`, :mod:`.votes` (and LF errors), :mod:`.runs` (and labels),
:mod:`.llm_cache` and the report's read-only :mod:`.reports`.  :mod:`.connection` opens the file
and holds what the families share; :mod:`.schema` creates the tables, versions them and migrates
older files.
"""

from weaksup.store.connection import CRASH_ENV, StoreError, crash_point, key_ranges, memory_size_problem
from weaksup.store.examples import StreamSync, SyncResult
from weaksup.store.llm_cache import LLMCache
from weaksup.store.reports import ReportReader
from weaksup.store.runs import RunError
from weaksup.store.schema import SCHEMA_VERSION
from weaksup.store.vote_store import VoteStore

__all__ = [
    "CRASH_ENV",
    "SCHEMA_VERSION",
    "LLMCache",
    "ReportReader",
    "RunError",
    "StoreError",
    "StreamSync",
    "SyncResult",
    "VoteStore",
    "crash_point",
    "key_ranges",
    "memory_size_problem",
]
