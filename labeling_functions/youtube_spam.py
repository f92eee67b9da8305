"""Labeling functions for YouTube comment spam (classes: HAM = 0, SPAM = 1).

Written by reading the WRENCH youtube train and valid splits only; test was
scored once, after the LFs were fixed.  Each LF looks at the ``text`` column.

They are vectorized LFs (:mod:`weaksup.vectorized`): polars evaluates each on a
whole chunk of comments at once.  The ``regex`` builder takes the pattern; the
LFs that vote ham unless a comment promotes something compose two matches by hand.
"""

import polars as pl

from weaksup.vectorized import regex, regex_match, vectorized_labeling_function

HAM, SPAM = 0, 1

# Spammers beg for subscribers.
asks_to_subscribe = regex("asks_to_subscribe", r"\bsub(scribe|scribing|cribe|s)?\b|\bsubs?\s*(4|for)\s*sub", SPAM, case_sensitive=False)

# "Check out my ..." is the commonest spam opener.
check_out = regex("check_out", r"check\s*(it\s*)?out|check\s+my|take\s+a\s+look|look\s+at\s+my", SPAM, case_sensitive=False)

# Links point away from the video, mostly to promotions.
has_link = regex("has_link", r"https?://|www\.|\.com\b|\.net\b|\.org\b|/watch\?v=|\.ly/", SPAM, case_sensitive=False)

# Self-promotion: "my channel", "my videos", "my music".
my_channel = regex("my_channel", r"\bmy\s+(youtube\s+)?(channel|videos?|music|songs?|page|covers?|vids?|chanell|chanel)\b", SPAM, case_sensitive=False)

# Pointers to other platforms or "follow me".
social_media = regex("social_media", r"\b(facebook|twitter|instagram|soundcloud|kik|skype|snapchat|tumblr|fb)\b|follow\s+me", SPAM, case_sensitive=False)

# Money, prizes and offers.
money_offer = regex("money_offer", r"\b(money|cash|earn|free|win|gift\s*card|prize|discount|promo|offer|dollars?|\$\d+|job|online|sale|deal)\b", SPAM, case_sensitive=False)

# Pleas for likes, shares, visits or help.
please_action = regex("please_action", r"\b(please|plz|pls|plzz|plese|pleas)\b.*\b(like|share|visit|watch|help|support|give|thumbs|comment)\b", SPAM, case_sensitive=False)



def _unpromoted(pattern: str, promo: str) -> pl.Expr:
    """Ham where ``pattern`` matches and the comment promotes nothing (``promo`` does not match)."""
    return pl.when(regex_match("text", pattern, ignore_case=True) & ~regex_match("text", promo, ignore_case=True)).then(HAM)


@vectorized_labeling_function()
def short_comment():
    """Very short comments are reactions to the song, rarely spam ("subscribe" aside)."""
    words = pl.col("text").str.count_matches(r"\S+")
    return pl.when((words <= 5) & ~regex_match("text", r"sub|check|http|www|\.com|channel|follow", ignore_case=True)).then(HAM)


@vectorized_labeling_function()
def about_the_song():
    """Talk about the song itself, with no self-promotion, is ham."""
    return _unpromoted(r"\b(song|music|beat|voice|lyrics|rap|rapper|dance|dancing|video|clip|singer|sing|sings|melody|chorus)\b", r"\bmy\b|check|sub|http|www|channel|please|plz")


@vectorized_labeling_function()
def fan_reaction():
    """Praise with no promotion."""
    return _unpromoted(r"\b(love|like|awesome|amazing|best|great|beautiful|perfect|cool|favorite|favourite|nice|legend|queen|king|genius|ginius|epic|wow|omg|lol|haha)\b|<3|&lt;3|❤", r"\bmy\b|check|sub|http|www|channel|follow|visit")


@vectorized_labeling_function()
def views_and_years():
    """View counts and "who's still watching in 2015" are ham."""
    return _unpromoted(r"\b(views?|billion|million|201[0-9]|who'?s?\s+(still\s+)?(here|watching|listening)|anyone\s+(else|still))\b", r"\bmy\b|check|sub|http|www|channel")


@vectorized_labeling_function()
def names_the_artist():
    """Mentions of the artist or song title, without promotion."""
    return _unpromoted(r"\b(katy|perry|eminem|rihanna|shakira|psy|lmfao|gangnam|oppa|waka|roar|redfoo|sky\s*blu|party\s*rock|love\s+the\s+way)\b", r"\bmy\b|check|sub|http|www|channel|please|plz|visit")


# "Hey guys, I make music..." openers introduce a pitch.
introduces_self = regex("introduces_self", r"\b(hey|hi|hello)\s+(guys|everyone|everybody|people|all)\b|\bi\s+(make|made|am\s+a|'m\s+a|sing|rap|produce|upload)\b|\bwe\s+(are|make|did)\b", SPAM, case_sensitive=False)
