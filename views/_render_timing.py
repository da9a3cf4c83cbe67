"""Run by `python -m fmnist bench` in a fresh interpreter: render one page script under AppTest, twice.

Prints one JSON line: the cold render (streamlit import included), a rerun in the same session, whether
TensorFlow got imported, and any exception the page showed. It lives here, not in fmnist/, because it
imports streamlit."""
import json
import sys
import time

start = time.perf_counter()
from streamlit.testing.v1 import AppTest  # noqa: E402  (the import is part of the cold render being timed)

at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
cold = time.perf_counter() - start
start = time.perf_counter()
at.run()  # the same session again: what a click costs once the server is warm
print(json.dumps({"seconds": cold, "rerun": time.perf_counter() - start, "tensorflow": "tensorflow" in sys.modules,
                  "exceptions": [str(e.value)[:200] for e in at.exception]}))
