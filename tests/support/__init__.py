"""What the tests share (no tests here): a small pipeline project over the shipped raw YouTube files
(:mod:`.project`), a fake chat server on loopback (:mod:`.llm_server`), headless Chromium
(:mod:`.browser`), a store's contents for comparing engines (:mod:`.store_contents`) and a tiny
hand-built run for the report (:mod:`.report_runs`).  Fixtures built on them are in ``tests/conftest.py``."""
