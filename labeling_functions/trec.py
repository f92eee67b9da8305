"""Keyword LFs for TREC question classes (DESC = 0, ENTY = 1, HUM = 2, ABBR = 3, LOC = 4, NUM = 5).

A small multi-class example for the LF report (data/trec_sample); each LF reads ``x.text``.
"""

import re

from weaksup import ABSTAIN, labeling_function

DESC, ENTY, HUM, ABBR, LOC, NUM = range(6)


@labeling_function()
def how_many_much(x):
    """"How many / how much / how long ..." asks for a number."""
    return NUM if re.search(r"\bhow (many|much|long|far|old|big|tall|fast|hot|large)\b", x.text) else ABSTAIN


@labeling_function()
def when_year(x):
    """Dates and years are numbers."""
    return NUM if re.search(r"\b(when|what year|what date)\b", x.text) else ABSTAIN


@labeling_function()
def who_whom(x):
    """"Who" asks for a person or group."""
    return HUM if re.search(r"\bwho(m|se)?\b", x.text) else ABSTAIN


@labeling_function()
def where_place(x):
    """"Where", or a country, city or state asked for, is a location."""
    return LOC if re.search(r"\bwhere\b|\bwhat (country|city|state|continent|river|mountain)\b", x.text) else ABSTAIN


@labeling_function()
def stands_for(x):
    """"What does X stand for", acronyms and abbreviations."""
    return ABBR if re.search(r"stand for|abbreviat|acronym", x.text) else ABSTAIN


@labeling_function()
def why_how_describe(x):
    """"Why", "how do/does/can" and "what is a" ask for a description."""
    return DESC if re.search(r"^(why|how (do|does|did|can|is|are))\b|\bdefinition\b|\bmean\b", x.text) else ABSTAIN


@labeling_function()
def what_is(x):
    """"What is/are X ?" with a short X is usually a definition."""
    return DESC if re.match(r"^what (is|are) (a |an |the )?\w+( \w+)? \?$", x.text) else ABSTAIN


@labeling_function()
def what_kind(x):
    """Kinds, types, names of things: entities."""
    return ENTY if re.search(r"\bwhat (kind|type|sort|breed|color|colour|animal|instrument|sport|language)\b|\bname a\b",
                             x.text) else ABSTAIN


@labeling_function()
def who_name(x):
    """"What is the name of the person / president / author ..." is a human."""
    return HUM if re.search(r"\b(president|author|actor|actress|singer|inventor|wrote|invented|founded)\b", x.text) else ABSTAIN
