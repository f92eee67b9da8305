"""What the tests share (no tests here): a small pipeline project over the shipped raw YouTube files
(:mod:`.project`), a fake chat server on loopback (:mod:`.llm_server`), headless Chromium
(:mod:`.browser`), a store's contents for comparing engines (:mod:`.store_contents`), a tiny
hand-built run for the report (:mod:`.report_runs`), a small data set per label type for the
conformance test (:mod:`.label_type_samples`), and hostile input: a chat server answering one
hostile way and CLI runs measured for peak memory (:mod:`.hostile`).  Fixtures built on them are
in ``tests/conftest.py``."""
