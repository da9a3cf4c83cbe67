"""TensorFlow without its start-up chatter on a user's terminal.

TF_CPP_MIN_LOG_LEVEL silences TensorFlow's own C++ log, but not the lines its libraries print while
they load, before absl's logging is initialised ("All log messages before absl::InitializeLog()...",
oneDNN, CUDA, CPU-feature notes). Those go straight to file descriptor 2, so the import runs with
fd 2 pointed at a temporary file; afterwards every captured line that is not such a notice is
written back to stderr, so a real error during the import still shows."""
from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager

# absl's prefix: a severity letter, MMDD, time... ("I0000 00:00:1796185325.496770   10127 port.cc:153] ...")
NOTICE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} \d\d:\d\d:|"
                    r"E\d{4} \d\d:\d\d:\S+\s+\d+ cuda_|To enable the following instructions:")


def quiet_env() -> None:
    """Before anything imports TensorFlow; a value the user set (to see the log) is kept."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_tensorflow() -> None:
    """Import TensorFlow and Keras now, their start-up notices kept off stderr (a no-op once imported)."""
    quiet_env()
    if "tensorflow" in sys.modules:
        return
    with notices_dropped():
        import keras  # noqa: F401 - imports TensorFlow, its backend
        import tensorflow  # noqa: F401


@contextmanager
def notices_dropped():
    """Run the body with fd 2 captured; write back what it printed, less the start-up notices."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not NOTICE.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
