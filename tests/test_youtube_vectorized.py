"""The YouTube demo's vectorized LFs vote exactly as the row-wise LFs they replaced."""

import re
from pathlib import Path

import polars as pl

from weaksup import ABSTAIN, labeling_function
from weaksup.apply import apply_lfs
from weaksup.data import load_wrench
from weaksup.pipeline import load_lf_modules

ROOT = Path(__file__).resolve().parents[1]
HAM, SPAM = 0, 1

# -- the row-wise LFs of labeling_functions/youtube_spam.py before they became vectorized --


@labeling_function(resources={"pattern": re.compile(r"\bsub(scribe|scribing|cribe|s)?\b|\bsubs?\s*(4|for)\s*sub", re.I)})
def asks_to_subscribe(x, pattern):
    """Spammers beg for subscribers."""
    return SPAM if pattern.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"check\s*(it\s*)?out|check\s+my|take\s+a\s+look|look\s+at\s+my", re.I)})
def check_out(x, pattern):
    """"Check out my ..." is the commonest spam opener."""
    return SPAM if pattern.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"https?://|www\.|\.com\b|\.net\b|\.org\b|/watch\?v=|\.ly/", re.I)})
def has_link(x, pattern):
    """Links point away from the video, mostly to promotions."""
    return SPAM if pattern.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\bmy\s+(youtube\s+)?(channel|videos?|music|songs?|page|covers?|vids?|chanell|chanel)\b", re.I)})
def my_channel(x, pattern):
    """Self-promotion: "my channel", "my videos", "my music"."""
    return SPAM if pattern.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\b(facebook|twitter|instagram|soundcloud|kik|skype|snapchat|tumblr|fb)\b|follow\s+me", re.I)})
def social_media(x, pattern):
    """Pointers to other platforms or "follow me"."""
    return SPAM if pattern.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\b(money|cash|earn|free|win|gift\s*card|prize|discount|promo|offer|dollars?|\$\d+|job|online|sale|deal)\b", re.I)})
def money_offer(x, pattern):
    """Money, prizes and offers."""
    return SPAM if pattern.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\b(please|plz|pls|plzz|plese|pleas)\b.*\b(like|share|visit|watch|help|support|give|thumbs|comment)\b", re.I)})
def please_action(x, pattern):
    """Pleas for likes, shares, visits or help."""
    return SPAM if pattern.search(x.text) else ABSTAIN


@labeling_function()
def short_comment(x):
    """Very short comments are reactions to the song, rarely spam ("subscribe" aside)."""
    words = x.text.split()
    if len(words) <= 5 and not re.search(r"sub|check|http|www|\.com|channel|follow", x.text, re.I):
        return HAM
    return ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\b(song|music|beat|voice|lyrics|rap|rapper|dance|dancing|video|clip|singer|sing|sings|melody|chorus)\b", re.I), "promo": re.compile(r"\bmy\b|check|sub|http|www|channel|please|plz", re.I)})
def about_the_song(x, pattern, promo):
    """Talk about the song itself, with no self-promotion, is ham."""
    return HAM if pattern.search(x.text) and not promo.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\b(love|like|awesome|amazing|best|great|beautiful|perfect|cool|favorite|favourite|nice|legend|queen|king|genius|ginius|epic|wow|omg|lol|haha)\b|<3|&lt;3|❤", re.I), "promo": re.compile(r"\bmy\b|check|sub|http|www|channel|follow|visit", re.I)})
def fan_reaction(x, pattern, promo):
    """Praise with no promotion."""
    return HAM if pattern.search(x.text) and not promo.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\b(views?|billion|million|201[0-9]|who'?s?\s+(still\s+)?(here|watching|listening)|anyone\s+(else|still))\b", re.I), "promo": re.compile(r"\bmy\b|check|sub|http|www|channel", re.I)})
def views_and_years(x, pattern, promo):
    """View counts and "who's still watching in 2015" are ham."""
    return HAM if pattern.search(x.text) and not promo.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\b(katy|perry|eminem|rihanna|shakira|psy|lmfao|gangnam|oppa|waka|roar|redfoo|sky\s*blu|party\s*rock|love\s+the\s+way)\b", re.I), "promo": re.compile(r"\bmy\b|check|sub|http|www|channel|please|plz|visit", re.I)})
def names_the_artist(x, pattern, promo):
    """Mentions of the artist or song title, without promotion."""
    return HAM if pattern.search(x.text) and not promo.search(x.text) else ABSTAIN


@labeling_function(resources={"pattern": re.compile(r"\b(hey|hi|hello)\s+(guys|everyone|everybody|people|all)\b|\bi\s+(make|made|am\s+a|'m\s+a|sing|rap|produce|upload)\b|\bwe\s+(are|make|did)\b", re.I)})
def introduces_self(x, pattern):
    """"Hey guys, I make music..." openers introduce a pitch."""
    return SPAM if pattern.search(x.text) else ABSTAIN


ROW_WISE = [asks_to_subscribe, check_out, has_link, my_channel, social_media, money_offer, please_action,
            short_comment, about_the_song, fan_reaction, views_and_years, names_the_artist, introduces_self]


def test_vectorized_youtube_lfs_vote_as_the_row_wise_ones():
    frame = load_wrench(ROOT / "data" / "youtube").select("example_id", "text")
    vectorized = load_lf_modules([ROOT / "labeling_functions" / "youtube_spam.py"])
    assert {lf.kind for lf in vectorized} == {"vectorized"}
    assert [lf.name for lf in vectorized] == [lf.name for lf in ROW_WISE]
    old = apply_lfs(ROW_WISE, frame, cardinality=2, progress=False).votes.to_dense()
    new = apply_lfs(vectorized, frame, cardinality=2, progress=False).votes.to_dense()
    assert (old != -1).sum() > 1000  # the comparison is over real votes
    for j, lf in enumerate(ROW_WISE):
        differ = frame["example_id"].filter(pl.Series(old[:, j] != new[:, j])).to_list()
        assert not differ, f"{lf.name} votes differently on {differ[:5]}"
