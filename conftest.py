"""Settings for every test and doctest (tests/ and the doctests in weaksup/).

One OpenMP thread: scikit-learn's gradient boosting on two busy cores spends its time waking threads
(a 500-row fit took 11.9 s with two threads and 0.2 s with one), and subprocesses the tests start
inherit the setting.  It is set before anything imports an OpenMP runtime.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
