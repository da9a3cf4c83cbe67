"""`python -m fmnist bench --quick`, run as a user runs it: the report's structure and its arithmetic."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist.bench import measure, report
from fmnist.bench.pages import fragment_period

REPO = Path(__file__).resolve().parent.parent
GROUPS = ["data", "overhead", "batchnorm", "predict", "lab", "candidates"]
EXPECTED = {"data.parse_idx", "data.load_cache", "overhead.mlp1.bare", "overhead.mlp1.lab",  # quick: mlp1 only
            "overhead.mlp1.arrays",
            "predict.direct", "predict.model_predict", "predict.sketch", "predict.load_model",
            "lab.0.05min.test", "lab.0.05min.wall",  # quick: one 3-second budget on 500 images
            *(f"candidates.{key}.0.05min.{what}" for key in ("unpadded", "vgg128", "resnet9")
              for what in ("test", "wall")),
            "batchnorm.float32.keras", "batchnorm.float32.fused",
            "batchnorm.bfloat16.keras", "batchnorm.bfloat16.fused"}
KEYS = {"name", "group", "figure", "unit", "median", "min", "max", "q1", "q3", "n", "samples", "vs", "ratio",
        "pair_ratios", "target", "met", "note"}


def _run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FMNIST_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("FMNIST_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "fmnist", "bench", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One quick bench of three groups in its own workspace (it builds the dataset cache there)."""
    if not Path("/usr/share/datasets/fashion-mnist").is_dir() and not os.environ.get("FMNIST_DATA_DIR"):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "report.json"
    done = _run(tmp / "home", "--quick", "--only", *GROUPS, "--json", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_the_report_holds_every_benchmark_of_the_chosen_groups(quick):
    rep, _ = quick
    assert rep["quick"] is True and rep["groups"] == GROUPS
    assert rep["errors"] == [] and rep["skipped"] == []
    assert {r["name"] for r in rep["results"]} == EXPECTED
    for r in rep["results"]:
        assert set(r) == KEYS and r["name"].startswith(r["group"] + ".") and r["unit"] and r["figure"]


def test_the_lab_group_reports_each_budgeted_run_it_trained(quick):
    rep, _ = quick
    (row,) = rep["tables"]["lab"]
    assert (row["minutes"], row["seed"]) == (0.05, 20240329) and row["epochs"] >= 1
    assert all(0.0 < row[k] <= 1.0 for k in ("train", "val", "test"))
    figures = {r["name"]: r for r in rep["results"]}
    assert figures["lab.0.05min.test"]["samples"] == [row["test"]]
    assert figures["lab.0.05min.wall"]["samples"] == [row["wall_s"]]
    assert any(n.startswith("lab: the best on validation was the 0.05-minute budget") for n in rep["notes"])


def test_the_candidates_group_trains_each_other_network_with_lab_bests_recipe(quick):
    from fmnist import nets, presets
    from fmnist.bench.candidates import LABELS, _network
    rep, _ = quick
    rows = rep["tables"]["candidates"]
    assert [r["network"] for r in rows] == list(LABELS.values())
    assert all((r["minutes"], r["seed"]) == (0.05, 20240329) and r["epochs"] >= 1 for r in rows)
    assert all(0.0 < r[k] <= 1.0 for r in rows for k in ("train", "val", "test"))
    unpadded, vgg128, resnet9 = rows
    assert unpadded["params"] == nets.count_params(_network("unpadded")[0]) < vgg128["params"]
    assert vgg128["params"] == nets.count_params(_network("vgg128")[0])
    assert resnet9["params"] not in (unpadded["params"], vgg128["params"],
                                     nets.count_params(presets.config_for("lab_best").model))
    figures = {r["name"]: r for r in rep["results"]}
    assert figures["candidates.resnet9.0.05min.test"]["samples"] == [resnet9["test"]]
    note = (f"candidates: {LABELS['resnet9']} ({resnet9['params']:,} parameters): the best on validation was "
            f"the 0.05-minute budget, seed 20240329: val {resnet9['val']:.4f}, test {resnet9['test']:.4f}")
    assert any(n.startswith(note) for n in rep["notes"])


def test_budgets_and_seeds_can_be_chosen_on_the_command_line(tmp_path):
    if not Path("/usr/share/datasets/fashion-mnist").is_dir() and not os.environ.get("FMNIST_DATA_DIR"):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    out = tmp_path / "report.json"
    done = _run(tmp_path / "home", "--quick", "--only", "lab", "--minutes", "0.02", "--seeds", "7", "8",
                "--json", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["tables"]["lab"]
    assert [(r["minutes"], r["seed"]) for r in rows] == [(0.02, 7), (0.02, 8)]
    assert "lab_best, 0.02-minute budget, seeds 7, 8: test accuracy" in done.stdout


def test_figures_are_positive_and_summarise_their_samples(quick):
    for r in quick[0]["results"]:
        samples = r["samples"]
        assert r["n"] == len(samples) >= 1
        assert all(math.isfinite(s) and s > 0 for s in samples), r["name"]
        assert r["median"] == pytest.approx(float(np.median(samples)))
        assert (r["min"], r["max"]) == (min(samples), max(samples))
        assert r["min"] <= r["q1"] <= r["median"] <= r["q3"] <= r["max"]


def test_ratios_are_the_ratio_of_the_two_reported_medians(quick):
    by_name = {r["name"]: r for r in quick[0]["results"]}
    compared = {r["name"]: r["vs"] for r in by_name.values() if r["ratio"] is not None}
    assert compared == {"overhead.mlp1.lab": "overhead.mlp1.bare", "overhead.mlp1.arrays": "overhead.mlp1.bare",
                        "predict.model_predict": "predict.direct",
                        "batchnorm.float32.fused": "batchnorm.float32.keras",
                        "batchnorm.bfloat16.fused": "batchnorm.bfloat16.keras"}
    for name, vs in compared.items():
        subject, base = by_name[name], by_name[vs]
        assert subject["ratio"] == pytest.approx(subject["median"] / base["median"], rel=1e-12)
        paired = len(subject["samples"]) == len(base["samples"])  # alternated sides line up pair by pair
        expected = [a / b for a, b in zip(subject["samples"], base["samples"])] if paired else []
        assert subject["pair_ratios"] == pytest.approx(expected)
    lab = by_name["overhead.mlp1.lab"]
    assert f"Lab run path vs bare model.fit, epoch time: mlp1 {lab['ratio']:.2f}x" in quick[0]["notes"][0]
    arrays = by_name["overhead.mlp1.arrays"]
    assert quick[0]["notes"][0].endswith(f"Bare model.fit on numpy arrays vs the lab's pipeline: mlp1 "
                                         f"{arrays['ratio']:.2f}x.")


def test_targets_are_judged_on_the_reported_figures(quick):
    by_name = {r["name"]: r for r in quick[0]["results"]}
    cache, direct = by_name["data.load_cache"], by_name["predict.direct"]
    assert cache["target"] == "< 0.3 s" and cache["met"] == (cache["median"] < 0.3)
    assert direct["target"] == "< 20 ms" and direct["met"] == (direct["median"] < 20)
    lab = by_name["overhead.mlp1.lab"]
    assert lab["target"] == "ratio <= 1.03" and lab["met"] == (lab["ratio"] <= 1.03)


def test_the_batchnorm_note_states_the_reported_ratios(quick):
    rep, _ = quick
    by_name = {r["name"]: r for r in rep["results"]}
    note = next(n for n in rep["notes"] if n.startswith("Fused batch norm against Keras's"))
    speedup = by_name["batchnorm.bfloat16.fused"]["median"] / by_name["batchnorm.float32.keras"]["median"]
    assert note == ("Fused batch norm against Keras's, epoch time: "
                    f"float32 {by_name['batchnorm.float32.fused']['ratio']:.2f}x, "
                    f"bfloat16 {by_name['batchnorm.bfloat16.fused']['ratio']:.2f}x; "
                    f"bfloat16 and fused together {speedup:.2f}x of float32 with Keras's.")


def test_the_lab_run_path_trains_exactly_the_model_a_bare_fit_trains(quick):
    by_name = {r["name"]: r for r in quick[0]["results"]}
    assert "same run, lab vs bare: identical weights" in by_name["overhead.mlp1.lab"]["note"]


def test_the_printed_table_has_a_row_for_each_benchmark(quick):
    rep, stdout = quick
    lines = stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "figure", "unit", "median"]
    for r in rep["results"]:
        row = next(line for line in lines if line.split() and line.split()[0] == r["name"])
        assert measure.short(r["median"]) in row and r["unit"] in row
        if r["ratio"] is not None:
            assert f"{r['ratio']:.3f} vs" in row
    assert "report written to" in stdout


def test_an_unknown_group_is_refused_with_the_valid_names(tmp_path):
    done = _run(tmp_path / "home", "--only", "gpu")
    assert done.returncode == 2
    assert "invalid choice: 'gpu'" in done.stderr and "'overhead'" in done.stderr
    assert not (tmp_path / "home").exists()


def test_alternating_flips_the_order_every_repetition():
    calls = []
    a, b = measure.alternate(lambda: calls.append("a") or 1.0, lambda: calls.append("b") or 2.0, 3)
    assert calls == ["a", "b", "b", "a", "a", "b"] and a == [1.0] * 3 and b == [2.0] * 3


def test_compare_and_targets_by_hand():
    base = measure.Figure("g.base", "base", "s", [1.0, 2.0, 4.0])
    fig = measure.compare(measure.Figure("g.new", "new", "s", [2.0, 3.0, 4.0],
                                         measure.Target("<=", 1.4, "ratio")), base)
    assert fig.ratio == 1.5 and fig.pair_ratios == [2.0, 1.5, 1.0]
    assert fig.to_json()["met"] is False and fig.to_json()["target"] == "ratio <= 1.4"
    text = report.table({"results": [base.to_json(), fig.to_json()], "skipped": [{"name": "g.x", "reason": "why"}]})
    assert "1.500 vs base" in text and "ratio <= 1.4 (MISSED)" in text and "g.x" in text and "why" in text


def test_the_fragment_period_is_read_from_the_page_source(tmp_path):
    page = tmp_path / "train.py"
    page.write_text("POLL_S = 3\nst.fragment(run_every=POLL_S if polling else None)(show)()\n")
    assert fragment_period(page) == 3.0
    page.write_text("@st.fragment(run_every=1.5)\ndef live(): pass\n")
    assert fragment_period(page) == 1.5
    page.write_text("st.write('no fragment')\n")
    assert fragment_period(page) is None


def test_a_cold_page_render_reports_the_home_page_without_tensorflow(tmp_path):
    """The pages group's child interpreter (views/_render_timing.py) renders app.py and reports on it."""
    from fmnist.bench.pages import render_cold

    outcome = render_cold("app.py", tmp_path / "home")
    assert outcome["exceptions"] == []
    assert outcome["tensorflow"] is False
    assert outcome["seconds"] > outcome["rerun"] > 0


def test_the_store_latency_bench_times_both_stores_and_leaves_a_shared_database_as_it_was(
        postgres_url, tmp_path, monkeypatch):
    """Group `cluster`'s store part against a real PostgreSQL named by FMNIST_DATABASE_URL, as a class's would be."""
    import dataclasses

    from fmnist import settings as settings_mod
    from fmnist.bench import plan, store_latency, suite
    from fmnist.store import Store

    monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FMNIST_DATABASE_URL", postgres_url)
    tiny = dataclasses.replace(plan.QUICK, cluster_store_s=1, cluster_readers=2, cluster_store_runs=5)
    ctx = suite.Context(tiny, settings_mod.load(), tmp_path, log=lambda _line: None)
    figures = {f.name: f for f in store_latency.run(ctx)}
    sides = ("sqlite", "postgresql")
    assert set(figures) == {f"cluster.store.{op}.{side}" for op in store_latency.OPS for side in sides}
    for f in figures.values():
        assert f.unit == "ms" and f.samples and all(0 < s < 60_000 for s in f.samples), f.name
    for op in store_latency.OPS:
        pg, lite = figures[f"cluster.store.{op}.postgresql"], figures[f"cluster.store.{op}.sqlite"]
        assert pg.vs == lite.name and pg.ratio == pytest.approx(pg.median / lite.median)
    assert ctx.skipped == [] and "cluster: PostgreSQL against SQLite" in ctx.notes[0]
    left = Store(postgres_url)
    try:
        assert left.count() == 0  # every run the bench wrote into the shared database is gone again
    finally:
        left.close()
