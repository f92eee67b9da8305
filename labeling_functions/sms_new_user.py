"""Eight keyword LFs for SMS spam (classes: HAM = 0, SPAM = 1), as a new user might write them in a
first hour: five spam words and patterns, three signs of a personal message.

They cover about 60% of sms train (13% spam), so the class prior decides the other 40%: what
``label_model.class_prior`` is for (``pipelines/sms_new_user.toml``).  The label-model benchmark
scores every model on their votes (``benchmarks/_stress.py``); they were written before any label
model was run on them and have not been changed since.
"""

from weaksup.vectorized import regex

HAM, SPAM = 0, 1

free = regex("free", r"\bfree\b", SPAM, case_sensitive=False)
prize = regex("prize", r"\b(win|won|winner|prize|claim|award)\b", SPAM, case_sensitive=False)
long_number = regex("long_number", r"\d{5,}", SPAM)  # a premium number or a short code
reply_words = regex("reply_words", r"\b(txt|text|reply|stop)\b", SPAM, case_sensitive=False)
link = regex("link", r"http|www\.|\.com\b", SPAM, case_sensitive=False)
short = regex("short", r"^\W*(\w+\W+){0,4}\w*\W*$", HAM)  # five words or fewer
personal = regex("personal", r"\b(i'm|i'll|i am|my|lol|haha|ok|love)\b", HAM, case_sensitive=False)
question = regex("question", r"\?\s*$", HAM)
