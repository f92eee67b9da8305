"""Recorded answers as LFs: each crowd worker (or any annotator whose answers are in a file)
becomes an LF of kind ``"answers"`` that votes what it answered, with no LF code.

Importing this package registers the ``"answers"`` kind with the applier, so answer LFs mix
with row-wise, vectorized and prompted LFs in one LF set and one store.  A pipeline takes them
from its ``[answers]`` section (:mod:`weaksup.pipeline.answers`).

>>> from weaksup.apply import BATCH_APPLIERS
>>> "answers" in BATCH_APPLIERS
True
"""

from weaksup.crowd.apply import apply_answer_lfs
from weaksup.crowd.lf import AnswerLF, answer_lfs

__all__ = ["AnswerLF", "answer_lfs", "apply_answer_lfs"]
