"""`python -m fmnist bench`: the lab's performance benchmarks, one module per group.

A command, not a test: it prints figures and writes a JSON report, and never fails because the
machine is slow. Groups: data (parsing, cache), overhead (the run path against a bare fit),
notebook (the lab against the notebook's way, and settings that might speed it up), batchnorm (lab_best's
network with Keras's batch norm against the fused one, in float32 and bfloat16), predict
(one image, the sketch pipeline), inside (the Inside page: feature maps, Grad-CAM, its figures),
pages (cold renders, a 10,000-run results table, live-chart latency),
scale (epoch time against data size and parameter count), slots (two runs at once against the same
two one after another), load (a class of sessions on one server, driven over Streamlit's websocket
protocol or in browsers, while two runs train), cluster (a run through Ray against the local
executor; the store's latency on PostgreSQL against SQLite under a class), and, only when asked for
with --only, lab (lab_best's accuracy against its time budget: about an hour) and candidates (the other
networks tried for lab_best, with its recipe: about three hours)."""

DEFAULT_GROUPS = ("data", "overhead", "notebook", "batchnorm", "predict", "photos", "inside", "pages", "scale", "slots",
                  "load", "cluster")
GROUP_NAMES = (*DEFAULT_GROUPS, "lab", "candidates")
