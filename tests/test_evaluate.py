"""fmnist.evaluate: the test-set report of a real (tiny) model, checked against numpy counts."""
from __future__ import annotations

import os

import numpy as np
import pytest

from fmnist import artifacts, evaluate, presets
from fmnist.config import ModelSpec
from fmnist.data import CLASS_NAMES
from fmnist.train import fit


@pytest.fixture(scope="module")
def forest(split):
    """A 10-tree forest fitted on 200 training images: a real model in a second."""
    config = presets.config_for("forest", subset=200, model=ModelSpec("forest", n_estimators=10))
    return fit(config, split)


@pytest.fixture
def finished(store, workspace, forest):
    """A finished run in the store whose model file is the forest above."""
    run_id = store.create_run(presets.config_for("forest", name="tiny forest"), status="running")
    path = workspace.models_dir / f"run-{run_id}.joblib"
    digest = artifacts.save(forest.model, "forest", path)
    store.finish(run_id, {**forest.fields(), "model_path": str(path), "model_sha256": digest})
    return store.get(run_id)


def _truth(forest, split):
    """Predictions straight from scikit-learn, independent of the lab's predict_proba wrapper."""
    clf = forest.model.clf
    x = split.x_test.reshape(len(split.x_test), -1)
    return clf.predict(x).astype(int), clf.predict_proba(x).max(axis=1), split.y_test.astype(int)


def test_report_matches_numpy_counts(store, workspace, split, forest, finished):
    report = evaluate.evaluate(store, workspace, finished.id, split=split)
    pred, conf, y = _truth(forest, split)

    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (y, pred), 1)
    cm = np.array(report["confusion"])
    np.testing.assert_array_equal(cm, counts)
    assert report["n_test"] == 10_000 == cm.sum()
    assert report["test_accuracy"] == pytest.approx(np.trace(counts) / counts.sum())
    assert report["test_error"] == pytest.approx(1 - np.trace(counts) / counts.sum())
    assert report["test_accuracy"] == pytest.approx(finished.test_acc)  # what the training run measured
    assert report["val_accuracy"] == finished.val_acc and report["val_error"] == pytest.approx(1 - finished.val_acc)

    wrong = np.where(pred != y)[0]
    mis = report["misclassified"]
    assert mis["index"] == wrong.tolist()
    assert mis["true"] == y[wrong].tolist() and mis["pred"] == pred[wrong].tolist()
    np.testing.assert_allclose(mis["confidence"], conf[wrong], atol=5e-5)

    diag = np.diag(counts).astype(float)
    precision = np.divide(diag, counts.sum(axis=0), out=np.zeros(10), where=counts.sum(axis=0) > 0)
    recall = diag / counts.sum(axis=1)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(10), where=precision + recall > 0)
    table = evaluate.per_class_frame(report)
    assert table["Class"].tolist() == list(CLASS_NAMES)
    np.testing.assert_allclose(table["Precision"], precision)
    np.testing.assert_allclose(table["Recall"], recall)
    np.testing.assert_allclose(table["F1"], f1)
    assert table["Test images"].tolist() == np.bincount(y, minlength=10).tolist()


def test_each_evaluation_counts_a_test_view_and_the_second_loads_no_model(store, workspace, split, finished,
                                                                           monkeypatch):
    first = evaluate.evaluate(store, workspace, finished.id, split=split)
    assert store.get(finished.id).test_views == 1
    assert store.evaluation(finished.id) == first

    def no_load(*args, **kwargs):
        raise AssertionError("the cached report should have been used")

    monkeypatch.setattr(artifacts, "load", no_load)
    monkeypatch.setattr(evaluate, "load_split", no_load)
    assert evaluate.evaluate(store, workspace, finished.id) == first
    assert store.get(finished.id).test_views == 2


def test_without_a_split_it_loads_the_workspace_split(store, workspace, split, finished, monkeypatch):
    asked = []
    monkeypatch.setattr(evaluate, "load_split", lambda settings: asked.append(settings.home) or split)
    report = evaluate.evaluate(store, workspace, finished.id)
    assert asked == [workspace.home] and report["n_test"] == 10_000


def test_a_tampered_model_file_is_refused_with_its_message(store, workspace, split, finished):
    with open(finished.model_path, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(artifacts.ArtifactError, match="does not match its recorded SHA-256") as info:
        evaluate.evaluate(store, workspace, finished.id, split=split)
    assert finished.model_path in str(info.value) and "retrain the run" in str(info.value)
    assert store.evaluation(finished.id) is None and store.get(finished.id).test_views == 0


def test_a_missing_model_file_is_refused_with_its_message(store, workspace, split, finished):
    os.remove(finished.model_path)
    with pytest.raises(artifacts.ArtifactError, match=r"The model file .* is missing\. Retrain the run"):
        evaluate.evaluate(store, workspace, finished.id, split=split)
    assert store.get(finished.id).test_views == 0


def test_a_model_kept_only_in_the_store_is_copied_out_and_evaluated(store, workspace, split, finished, forest):
    """A worker on another node leaves its file there and its bytes in the store."""
    data = open(finished.model_path, "rb").read()
    store.put_artifact(finished.id, finished.model_sha256, ".joblib", data)
    os.remove(finished.model_path)
    report = evaluate.evaluate(store, workspace, finished.id, split=split)
    pred, _, truth = _truth(forest, split)
    assert report["test_accuracy"] == pytest.approx(float(np.mean(pred == truth)))
    assert open(workspace.models_dir / f"run-{finished.id}.joblib", "rb").read() == data


def test_unfinished_and_unknown_runs(store, workspace, split, run_factory):
    failed = run_factory("mlp1", status="running")
    store.mark_failed(failed.id, "boom")
    with pytest.raises(artifacts.ArtifactError, match="has no saved model"):
        evaluate.evaluate(store, workspace, failed.id, split=split)
    with pytest.raises(evaluate.EvaluationError, match="Run 999 does not exist"):
        evaluate.evaluate(store, workspace, 999, split=split)


def _report():
    """A hand-made report: 6 test images, 3 of them wrong."""
    y = np.array([0, 0, 6, 6, 6, 1])
    probs = np.full((6, 10), 0.01)
    for row, (label, p) in enumerate([(0, 0.9), (6, 0.8), (0, 0.7), (0, 0.95), (6, 0.6), (1, 0.5)]):
        probs[row, label] = p
    return evaluate.build_report(probs, y, 0.5), y, probs.argmax(axis=1)


def test_examples_pick_exactly_one_cell_most_confident_first():
    report, y, pred = _report()
    idx, t, p, conf = evaluate.examples(report, 6, 0)  # shirts taken for T-shirts
    assert idx.tolist() == [3, 2] and conf.tolist() == [0.95, 0.7]
    assert set(idx) == set(np.where((y == 6) & (pred == 0))[0])
    assert evaluate.titles(t, p, conf) == ["Shirt<br>→ T-shirt/top 95%", "Shirt<br>→ T-shirt/top 70%"]
    longest = max(len(line) for t in range(10) for p in range(10)
                  for line in evaluate.titles([t], [p], [1.0])[0].split("<br>"))
    assert longest <= 18  # a caption line fits under one gallery image
    assert evaluate.examples(report)[0].tolist() == [3, 1, 2]  # every mistake
    assert evaluate.examples(report, 6, 6)[0].tolist() == [4]  # a diagonal cell: the correct ones
    assert evaluate.examples(report, None, 6)[0].tolist() == [1]
    assert evaluate.examples(report, 1, 2)[0].tolist() == []
    assert evaluate.cell_title(6, 0) == "Shirt mistaken for T-shirt/top"
    assert evaluate.cell_title(6, 6) == "Shirt: predicted correctly"
    assert evaluate.cell_title(None, None) == "Any class mistaken for another class"
    assert evaluate.cell_title(None, 1) == "Any class mistaken for Trouser"
    assert report["test_accuracy"] == pytest.approx(0.5) and report["val_error"] == pytest.approx(0.5)


def test_headline_figures_beside_validation():
    report, _, _ = _report()
    (label, value, delta), *rest = evaluate.headline(report)
    assert (label, value) == ("Test accuracy", f"{report['test_accuracy']:.2%}")
    assert delta == f"{(report['test_accuracy'] - 0.5) * 100:+.2f} points vs validation"
    assert [r[0] for r in rest] == ["Test error", "Validation accuracy", "Validation error"]
    report["val_accuracy"] = report["val_error"] = None  # a run without a validation figure
    assert evaluate.headline(report)[0][2] is None and evaluate.headline(report)[2][1] == "–"


def test_a_flip_averaged_run_is_evaluated_as_it_was_trained(store, workspace, split):
    config = presets.config_for("mlp1", subset=300, epochs=1, flip_average=True)
    result = fit(config, split)
    run_id = store.create_run(config, status="running")
    path = workspace.models_dir / f"run-{run_id}.keras"
    store.finish(run_id, {**result.fields(), "model_path": str(path),
                          "model_sha256": artifacts.save(result.model, "mlp", path)})
    report = evaluate.evaluate(store, workspace, run_id, split=split)
    net = result.model.model
    both = (net.predict(split.x_test, verbose=0) + net.predict(split.x_test[:, :, ::-1], verbose=0)) / 2
    assert report["misclassified"]["index"] == np.where(both.argmax(1) != split.y_test)[0].tolist()
    assert report["test_accuracy"] == pytest.approx(result.test_acc)
