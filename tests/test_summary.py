"""fmnist.summary: the results table (paged and filtered in SQL), its CSV, downloads and edits."""
from __future__ import annotations

import csv
import hashlib
import io
import time

import pandas as pd
import pytest

from fmnist import presets, schema, summary
from fmnist.artifacts import ArtifactError
from fmnist.store import StoreError
from tests.playing import start_by_hand


def finish(store, run, **result):
    """Take a queued or running run to finished with the given results."""
    if store.get(run.id).status == "queued":
        start_by_hand(store, run.id, pid=1)
    store.finish(run.id, {"params": 1000, "epochs": 3, "seconds": 9.5, **result})
    return store.get(run.id)


@pytest.fixture
def three(store, run_factory):
    """Three finished runs (val 0.80, 0.91, 0.85), a failed one and a queued one."""
    runs = [finish(store, run_factory("mlp1", name=f"net {v}"), train_acc=t, val_acc=v, test_acc=v - 0.01)
            for t, v in [(0.82, 0.80), (0.99, 0.91), (0.86, 0.85)]]
    failed = run_factory("cnn1", name="broken cnn", status="running")
    store.mark_failed(failed.id, "loss became NaN")
    queued = run_factory("cnn2", name="waiting cnn")
    return runs + [store.get(failed.id), queued]


def _parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def test_csv_neutralises_formulas_and_keeps_numbers(store, run_factory):
    names = ['=HYPERLINK("http://evil.example","click")', "+1", "-2", "@x", "plain net"]
    for name in names:
        finish(store, run_factory("mlp1", name=name), train_acc=0.9, val_acc=0.875, test_acc=0.5)
    rows = _parse(summary.to_csv(summary.summary_frame(store)))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["Run", "Model", "Train accuracy", "Val accuracy", "Test accuracy"]
    models = [r[header.index("Model")] for r in body]
    assert models == ["plain net", "'@x", "'-2", "'+1", '\'=HYPERLINK("http://evil.example","click")']
    assert all(r[header.index("Val accuracy")] == "0.875" for r in body)  # numbers stay numbers, unquoted
    assert [r[header.index("Params")] for r in body] == ["1000"] * 5


def test_table_page_marks_the_best_finished_run_and_the_gap(store, three):
    frame = summary.table_page(store)
    assert frame["Model"].tolist() == ["waiting cnn", "broken cnn", "net 0.85", "net 0.91", "net 0.8"]
    assert frame["Status"].tolist() == ["queued", "failed", "finished", "finished", "finished"]
    assert frame.loc[frame["Best"] == summary.BEST_MARK, "Model"].tolist() == ["net 0.91"]
    gap = frame.set_index("Model")["Gap"]
    assert gap["net 0.91"] == pytest.approx(0.08) and gap["net 0.8"] == pytest.approx(0.02)
    assert pd.isna(gap["waiting cnn"])
    assert frame.loc[frame["Model"] == "broken cnn", "Error"].item() == "loss became NaN"


def test_filters_and_pages_run_in_sql(store, three):
    query = summary.Filters(statuses=("finished",), name="NET 0.9").query()
    assert [r.name for r in store.search(**query)] == ["net 0.91"]
    assert store.count_matching(**query) == 1
    assert store.count_matching(presets=("cnn1", "cnn2")) == 2
    assert store.count_matching(name_contains="%") == 0  # LIKE wildcards are plain characters
    page2 = summary.table_page(store, summary.Filters(), page=2, size=2)
    assert page2["Model"].tolist() == ["net 0.85", "net 0.91"]
    assert page2["Best"].tolist() == ["", summary.BEST_MARK]
    assert store.presets_used() == ["cnn1", "cnn2", "mlp1"]


def test_notebook_rows_are_appended_as_reference(store, three):
    shown = summary.with_notebook(summary.table_page(store))
    ref = shown[shown["Status"] == "notebook"]
    assert len(shown) == 5 + len(ref) and len(ref) == 9
    assert shown["Run"].dtype == "Int64" and shown["Run"].tolist()[:5] == [r.id for r in reversed(three)]
    assert ref["User"].tolist() == [""] * 9 and ref["Best"].tolist() == [""] * 9
    cnn = ref[ref["Model"] == "Multi CNN (notebook)"].iloc[0]
    assert (cnn["Train accuracy"], cnn["Val accuracy"], cnn["Test accuracy"]) == (0.9885, 0.9174, 0.9158)
    assert cnn["Gap"] == pytest.approx(0.9885 - 0.9174) and cnn["Best"] == ""


def test_styled_table_formats_percentages_and_highlights(store, three):
    html = summary.styled(summary.table_page(store)).to_html()
    assert "91.00%" in html and "8.00%" in html
    assert "background-color: #fff3c4" in html and "color: #c0392b" in html


def test_delete_removes_the_run_and_its_model_file_but_refuses_an_active_run(store, workspace, three):
    model = workspace.models_dir / "run-x.keras"
    model.write_bytes(b"weights")
    outside = workspace.home / "elsewhere.keras"
    outside.write_bytes(b"not ours")
    kept = finish(store, store.get(three[4].id), val_acc=0.5, model_path=str(model), model_sha256="0" * 64)
    assert summary.delete_run(store, workspace, kept.id).id == kept.id
    assert store.get(kept.id) is None and not model.exists()

    odd = finish(store, store.get(store.create_run(kept.run_config(), status="running")), model_path=str(outside),
                 model_sha256="0" * 64)
    summary.delete_run(store, workspace, odd.id)
    assert outside.exists()  # a path outside the lab's models folder is never removed

    active = store.get(store.create_run(kept.run_config(), status="running"))
    with pytest.raises(StoreError, match=f"Run {active.id} is still running; stop it before deleting it."):
        summary.delete_run(store, workspace, active.id)
    assert store.get(active.id) is not None


def test_model_download_only_after_its_sha256_check(store, workspace, three):
    model = workspace.models_dir / "run-9.keras"
    model.write_bytes(b"the weights")
    run = finish(store, store.get(three[4].id), model_path=str(model),
                 model_sha256=hashlib.sha256(b"the weights").hexdigest())
    summary.check_model(run)
    assert summary.model_bytes(run) == b"the weights"
    assert summary.model_filename(run) == f"fmnist-run-{run.id}.keras"
    model.write_bytes(b"the weightz")
    for check in (summary.check_model, summary.model_bytes):
        with pytest.raises(ArtifactError, match="does not match its recorded SHA-256"):
            check(run)
    model.unlink()
    with pytest.raises(ArtifactError, match="is missing"):
        summary.model_bytes(run)
    with pytest.raises(ArtifactError, match="has no saved model"):
        summary.check_model(three[3])


def test_scatter_and_curves(store, three):
    run = three[3]
    baseline = finish(store, store.get(store.create_run(run.run_config(), status="running")), params=None,
                      val_acc=0.1, seconds=0.5)
    frame = summary.scatter_frame([three[1], three[3], baseline])
    assert frame.to_dict("list") == {"name": [f"#{three[1].id} net 0.91"], "tag": [f"#{three[1].id}"],
                                     "params": [1000], "seconds": [9.5],
                                     "val_acc": [0.91]}  # the failed run has no accuracy, the baseline no params
    assert summary.scatter_frame([three[1], baseline], "seconds")["seconds"].tolist() == [9.5, 0.5]
    assert summary.curves(store, [run])[f"#{run.id} broken cnn"].empty
    live = store.get(store.create_run(run.run_config(), status="running"))
    store.add_epoch(live.id, 1, {"val_accuracy": 0.6, "val_loss": 1.1})
    store.add_epoch(live.id, 2, {"val_accuracy": 0.7, "val_loss": 0.9})
    curve = summary.curves(store, [live])[f"#{live.id} broken cnn"]
    assert curve["epoch"].tolist() == [1, 2] and curve["val_accuracy"].tolist() == [0.6, 0.7]


def _bulk(store, n: int) -> None:
    """n finished runs written in one transaction (create_run one by one would take longer than the test)."""
    config = presets.config_for("mlp1").to_json()
    rows = [{"name": f"run {i}", "preset": "mlp1" if i % 2 else "cnn2", "kind": "mlp", "config": config,
             "status": "finished", "created_at": time.time(), "train_acc": 0.5 + i / (4 * n),
             "val_acc": 0.4 + i / (4 * n), "test_acc": 0.4, "params": 1000 + i, "epochs": 5, "seconds": 3.0}
            for i in range(n)]
    with store.write() as c:
        c.execute(schema.runs.insert(), rows)


def test_ten_thousand_runs_page_fast(store):
    _bulk(store, 10_000)
    start = time.perf_counter()
    frame = summary.table_page(store, summary.Filters(statuses=("finished",), name="run 99", presets=("mlp1",)))
    total = store.count_matching(statuses=("finished",), name_contains="run 99", presets=("mlp1",))
    summary.styled(summary.with_notebook(frame)).to_html()
    print(f"one filtered page of 10,000 runs, styled: {time.perf_counter() - start:.2f} s")  # a figure, not a target
    assert total == 56 and len(frame) == summary.PAGE_SIZE  # run 99, 99x, 99xx with odd i
    assert store.best_val().name == "run 9999" and store.count() == 10_000


def test_test_accuracy_is_locked_until_its_evaluation_is_opened(store, three):
    frame = summary.summary_frame(store).set_index("Model")
    assert frame.loc[["net 0.8", "net 0.91", "net 0.85"], "Test accuracy"].tolist() == [summary.LOCKED] * 3
    assert pd.isna(frame.loc["waiting cnn", "Test accuracy"])  # nothing measured: not "locked", just empty
    store.count_test_view(three[1].id)
    frame = summary.summary_frame(store).set_index("Model")
    assert frame.loc["net 0.91", "Test accuracy"] == pytest.approx(0.90)
    assert frame.loc["net 0.8", "Test accuracy"] == summary.LOCKED
    rows = _parse(summary.to_csv(summary.summary_frame(store)))
    column = [r[rows[0].index("Test accuracy")] for r in rows[1:]]
    assert column == ["", "", summary.LOCKED, "0.9", summary.LOCKED]
    shown = summary.display_frame(summary.table_page(store))["Test accuracy"].tolist()
    assert shown == ["–", "–", summary.LOCKED, "90.00%", summary.LOCKED]  # one type a column, words for Arrow
    html = summary.styled(summary.table_page(store)).to_html()
    assert html.count(summary.LOCKED) == 2 and "90.00%" in html and "84.00%" not in html  # the others stay hidden


def test_reveal_all_counts_one_look_for_each_run_it_opens(store, three):
    from fmnist import evaluate
    store.count_test_view(three[0].id)
    assert evaluate.reveal_all(store) == [three[2].id, three[1].id]  # newest first; #0 was open already
    assert [store.get(r.id).test_views for r in three] == [1, 1, 1, 0, 0]
    assert evaluate.reveal_all(store) == []
    assert summary.LOCKED not in summary.summary_frame(store)["Test accuracy"].tolist()


def test_empty_cells_read_a_dash_and_whole_numbers_stay_whole(store, three, run_factory):
    baseline = finish(store, run_factory("majority", name="always shirts"), train_acc=0.1, val_acc=0.1, params=None)
    shown = summary.with_notebook(summary.table_page(store))
    assert shown["Batch"].dtype == "Int64" and shown["Test views"].dtype == "Int64"
    assert pd.isna(shown.loc[shown["Run"] == baseline.id, "Batch"].item())
    html = summary.styled(shown).to_html()
    batch = presets.config_for("mlp1").batch_size
    assert "None" not in html and f">{batch}<" in html and f"{batch}.0" not in html


def test_users_filter_in_sql(store, run_factory):
    for user in ("ana", "bo", "ana", ""):
        run_factory("mlp1", user=user)
    assert store.users() == ["ana", "bo"]
    assert store.count_matching(**summary.Filters(users=("ana",)).query()) == 2
    assert [r.user for r in store.search(**summary.Filters(users=("bo", "ana")).query())] == ["ana", "bo", "ana"]


def test_display_cells_sort_as_numbers_when_sorted_as_text():
    frame = pd.DataFrame({"Train accuracy": [1.0, 0.9933, 0.0944, None], "Params": [1_200_000, 202_735, 9, None],
                          "Model": ["a", None, "c", "d"]})
    shown = summary.display_frame(frame)
    assert shown["Model"].tolist() == ["a", "–", "c", "d"]
    assert [v.strip() for v in shown["Train accuracy"]] == ["100.00%", "99.33%", "9.44%", "–"]
    for col in ("Train accuracy", "Params"):
        numbers = [v for v in shown[col] if v != "–"]
        assert sorted(numbers) == [numbers[i] for i in frame[col].dropna().argsort()]  # text order = numeric order
    assert summary.numeric_columns(frame) == ["Train accuracy", "Params"]
