"""Recorded answers as LFs: each crowd worker (or any annotator whose answers are in a file)
becomes an LF of kind ``"answers"`` that votes what it answered, with no LF code.

Answer LFs mix with row-wise, vectorized and prompted LFs in one LF set and one store; their kind
is :mod:`weaksup.apply.kinds.answers`.  A pipeline takes them from its ``[answers]`` section
(:mod:`weaksup.pipeline.answers`).
"""

from weaksup.crowd.lf import AnswerLF, answer_lfs

__all__ = ["AnswerLF", "answer_lfs"]
