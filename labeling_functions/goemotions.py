"""Keyword and lexicon LFs for GoEmotions (Demszky et al., 2020): Reddit comments, 28 emotion labels, multi-label.

Written on the train and dev splits only (test is scored once, by ``benchmarks/multilabel.py``):
each term below was kept when, on train + dev, the comments it matches carry its label at least
half the time (:data:`STRONG`) or at least a fifth of the time (:data:`WEAK`); terms matching
fewer than 5 comments were dropped.

- one keyword LF per label (``<label>_words``): votes ``{label}`` where a :data:`STRONG` term matches;
- ``lexicon``: one LF over every label, voting the set of labels whose :data:`WEAK` terms match
  (a broad, noisier LF whose reliability the label model shares across its labels);
- ``question``: a comment ending in "?" is curious; ``neutral_plain``: a comment with no emotion
  term and no "!" is neutral (where those labels are among the classes).

The module-level LFs vote over :data:`TUTORIAL_LABELS` (``pipelines/goemotions.toml``: Argilla's
multi-label tutorial's six labels, in that order); :func:`lfs_for` builds them for any label list
(``benchmarks/multilabel.py`` runs all 28).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from weaksup.vectorized import VectorizedLabelingFunction

TUTORIAL_LABELS = ["admiration", "annoyance", "approval", "curiosity", "gratitude", "optimism"]
"""The six labels of the tutorial's subset, in label-id order."""

STRONG: dict[str, str] = {
    "admiration": r"\b(?:amazing|awesome|beautiful|impressive|incredible|brilliant|gorgeous|great job|well done|so good|legend|admire|wonderful|fantastic|stunning|excellent|genius|good job|nice work|cute|great)\b",
    "amusement": r"\b(?:lol|lmao|haha\w*|hilarious|funny|laughing|laughed|lol\w*)\b",
    "anger": r"\b(?:angry|shut up)\b",
    "annoyance": r"\b(?:annoy\w*|irritat\w*)\b",
    "approval": r"\b(?:agree\w*|approve)\b",
    "caring": r"\b(?:take care|stay safe|be careful|get well)\b",
    "confusion": r"\b(?:confus\w*|i don't understand|not sure|puzzl\w*)\b",
    "curiosity": r"\b(?:curious)\b",
    "desire": r"\b(?:wish)\b",
    "disappointment": r"\b(?:disappoint\w*)\b",
    "disapproval": r"\b(?:disagree|unacceptable)\b",
    "disgust": r"\b(?:disgust\w*|nasty|yuck)\b",
    "embarrassment": r"\b(?:embarrass\w*|awkward|ashamed)\b",
    "excitement": r"\b(?:excit\w*|woo+)\b",
    "fear": r"\b(?:scar\w*|afraid|terrif\w*|fear\w*|horrif\w*)\b",
    "gratitude": r"\b(?:thanks?|thank you|thx|ty|appreciate\w*|thankful)\b",
    "grief": r"\b(?:passed away)\b",
    "joy": r"\b(?:happy|glad|joy\w*)\b",
    "love": r"\b(?:love|loved|loving|adore)\b",
    "nervousness": r"\b(?:nervous)\b",
    "optimism": r"\b(?:hope\w*|hopefully|good luck)\b",
    "pride": r"\b(?:proud)\b",
    "realization": r"\b(?:realiz\w*)\b",
    "remorse": r"\b(?:sorry|regret\w*)\b",
    "sadness": r"\b(?:sad|sadly|heartbreak\w*|heartbroken)\b|😢",
    "surprise": r"\b(?:surpris\w*|shock\w*)\b",
}
WEAK: dict[str, str] = {
    "admiration": r"\b(?:best|respect)\b",
    "amusement": r"\b(?:lmfao|hah)\b|😂|🤣",
    "anger": r"\b(?:fuck\w*|furious|hate|wtf)\b",
    "annoyance": r"\b(?:sick of|stop it|frustrat\w*)\b",
    "approval": r"\b(?:exactly|true|yes+|yep|correct|i support|valid|makes sense)\b",
    "caring": r"\b(?:you ok|feel better|sending love)\b",
    "confusion": r"\b(?:i don't get|no idea|don't understand)\b",
    "curiosity": r"\b(?:what is|how do|how does|why do|why does|why is|what does|anyone know)\b",
    "desire": r"\b(?:i want)\b",
    "disappointment": r"\b(?:too bad|unfortunately)\b",
    "disapproval": r"\b(?:bad idea|shouldn't|should not|no way|not cool|nope)\b",
    "disgust": r"\b(?:gross|vile|repuls\w*|ew+)\b",
    "excitement": r"\b(?:can't wait|yay+)\b",
    "fear": r"\b(?:frighten\w*|creepy|panic\w*)\b",
    "gratitude": r"\b(?:grateful)\b",
    "grief": r"\b(?:rip|died|condolences)\b",
    "joy": r"\b(?:feel good|yay|cheer\w*|smil\w*)\b",
    "love": r"❤",
    "nervousness": r"\b(?:anxious|anxiety|worried)\b",
    "optimism": r"\b(?:optimis\w*|will be ok|looking forward)\b",
    "pride": r"\b(?:pride)\b",
    "realization": r"\b(?:realis\w*|never knew)\b",
    "relief": r"\b(?:relie\w*|thank god|thank goodness)\b",
    "remorse": r"\b(?:apolog\w*)\b",
    "sadness": r"\b(?:depress\w*|cry\w*|tears|miserable|lonely|unhappy)\b|😭",
    "surprise": r"\b(?:wow|whoa|woah|omg|unexpected|can't believe)\b",
}


def _matches(pattern: str) -> pl.Expr:
    return pl.col("text").str.contains("(?i)" + pattern)


def lfs_for(classes: Sequence[str]) -> list[VectorizedLabelingFunction]:
    """The LFs voting over ``classes`` (label ids are positions in it)."""
    ids = {name: j for j, name in enumerate(classes)}
    lfs = [VectorizedLabelingFunction(f"{name}_words", expr=pl.when(_matches(STRONG[name])).then(pl.lit([ids[name]])),
                                      label_type="multilabel")
           for name in classes if name in STRONG]  # fmt: skip
    weak = [pl.when(_matches(WEAK[name])).then(pl.lit(ids[name])) for name in classes if name in WEAK]
    if weak:
        found = pl.concat_list(weak).list.drop_nulls()
        lfs.append(VectorizedLabelingFunction("lexicon", expr=pl.when(found.list.len() > 0).then(found), label_type="multilabel"))
    if "curiosity" in ids:
        asks = pl.col("text").str.strip_chars().str.ends_with("?")
        lfs.append(VectorizedLabelingFunction("question", expr=pl.when(asks).then(pl.lit([ids["curiosity"]])),
                                              label_type="multilabel"))  # fmt: skip
    if "neutral" in ids:
        anything = "|".join([*STRONG.values(), *WEAK.values(), "!"])
        lfs.append(VectorizedLabelingFunction("neutral_plain", expr=pl.when(~_matches(anything)).then(pl.lit([ids["neutral"]])),
                                              label_type="multilabel"))  # fmt: skip
    return lfs


# The pipeline's LFs: module-level objects, as weaksup.pipeline.sources collects them.
globals().update({lf.name: lf for lf in lfs_for(TUTORIAL_LABELS)})
