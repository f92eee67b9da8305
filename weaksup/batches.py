"""How many rows each step handles at a time, in one place, with why.

Every step that could hold a whole dataset works through it in batches instead, so memory stays
bounded at 10M+ examples.  A size here is a trade: larger batches amortise per-batch costs (a
commit, a query, a Python call), smaller ones bound memory and what a crash can lose.
"""

APPLY_CHUNK_ROWS = 20_000
"""Rows per chunk of :func:`weaksup.apply.apply_lfs` (in memory), and of
:func:`weaksup.apply.apply_to_store` when a caller passes no size."""
COMMIT_ROWS = 100_000
"""Rows per committed chunk of a pipeline's LF application (``lfs.chunk_size`` unset): seconds of
row-wise work, so a crash loses little.  Kinds that are cheap per row commit more at a time
(:attr:`weaksup.apply.kinds.LFKind.chunk_rows`)."""
VECTORIZED_COMMIT_ROWS = 1_000_000
"""Rows per committed chunk of vectorized LFs: about a second of polars work, since each commit
costs tens of milliseconds, which at 100k rows would be a third of the LFs' work."""
SOURCE_BATCH_ROWS = 100_000
"""Rows per batch of a streamed source (``data.stream``): a few tens of MB of text at a time."""
STORE_ROWS = 1_000_000
"""Keys per read of the label matrix, rows per transaction of a run's labels, rows per read of a
run's labels and of the live examples' splits: DuckDB joins and sorts a batch at a time."""
EXPORT_ROWS = 100_000
"""Rows per batch of a training set written or read back batch by batch (text included)."""
PREDICT_ROWS = 1_000_000
"""Rows a categorical run's label model predicts, and the labels it writes, at a time."""
TIE_BREAK_ROWS = 100_000
"""Rows per step of turning probabilities into labels (:func:`weaksup.model.labels_from_proba`)."""
PATTERN_ROWS = 1_000_000
"""Rows per step of finding a label matrix's distinct vote patterns."""
COUNT_ROWS = 1_000_000
"""Rows per step of counting an LF summary's votes."""
REPORT_PART_ROWS = 1_000_000
"""Labels per part of the LF report: a run larger than this is read and summed a part at a time."""
TRACE_ROWS = 2_000
"""Rows (evenly spaced) an LF is traced on to find the input columns it reads."""
MODEL_CHUNK_CELLS = 4_000_000
"""Cells of the (examples × LFs × items²) arrays the ranking models build per step."""
