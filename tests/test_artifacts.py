"""fmnist.artifacts: atomic save with a SHA-256, load only on a matching hash, same predictions after."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from fmnist import artifacts, nets
from fmnist.artifacts import ArtifactError, ForestModel, KerasModel, MajorityModel
from fmnist.config import ModelSpec, RunConfig


def independent_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]


@pytest.fixture(scope="module")
def images(split):
    return split.x_train[:200], split.y_train[:200], split.x_val[:50]


@pytest.fixture(scope="module")
def models(images):
    from sklearn.ensemble import RandomForestClassifier

    x, y, _ = images
    clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(x.reshape(len(x), -1), y)
    import keras
    keras.utils.set_random_seed(1)
    tiny = nets.build(RunConfig(ModelSpec("mlp", dense=(8,)), preset="tiny"))
    return {"majority": MajorityModel(7), "forest": ForestModel(clf), "mlp": KerasModel(tiny)}


@pytest.mark.parametrize("kind", ["majority", "forest", "mlp"])
def test_save_load_round_trip_keeps_predictions(tmp_path, models, images, kind):
    model = models[kind]
    x_eval = images[2]
    path = tmp_path / "models" / f"run-1{artifacts.suffix_for(kind)}"
    digest = artifacts.save(model, kind, path)
    assert path.is_file() and digest == independent_sha(path)
    assert no_temp_files(path.parent)

    loaded = artifacts.load(str(path), digest, kind)
    assert type(loaded) is type(model)
    before, after = model.predict_proba(x_eval), loaded.predict_proba(x_eval)
    assert before.shape == after.shape == (len(x_eval), 10)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(after.argmax(1), before.argmax(1))
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-5)


def test_majority_predicts_its_label_only(models, images):
    probs = models["majority"].predict_proba(images[2])
    assert np.all(probs[:, 7] == 1.0) and probs.sum() == len(images[2])


def test_forest_wrapper_agrees_with_sklearn(models, images):
    x, _, x_eval = images
    clf = models["forest"].clf
    expected = clf.predict(x_eval.reshape(len(x_eval), -1))
    np.testing.assert_array_equal(models["forest"].predict_proba(x_eval).argmax(1), expected)


def test_keras_wrapper_small_and_large_batches_agree(models, split):
    """<= 64 images call the model directly, more go through predict(): the same numbers either way."""
    model = models["mlp"]
    x = split.x_val[:100]
    np.testing.assert_allclose(model.predict_proba(x)[:50], model.predict_proba(x[:50]), atol=1e-6)


def test_flip_averaged_predictions_are_the_mean_of_both_and_blind_to_a_mirror(tmp_path, models, split):
    plain = models["mlp"]
    path = tmp_path / "run-1.keras"
    flipped = artifacts.load(str(path), artifacts.save(plain, "mlp", path), "mlp", flip_average=True)
    x = split.x_val[:100]  # over 64: through predict(); the first 10 straight through the model
    for batch in (x, x[:10]):
        mirror = batch[:, :, ::-1]
        both = flipped.predict_proba(batch)
        np.testing.assert_allclose(both, (plain.predict_proba(batch) + plain.predict_proba(mirror)) / 2, atol=1e-6)
        np.testing.assert_allclose(flipped.predict_proba(mirror), both, atol=1e-6)
        assert not np.allclose(plain.predict_proba(mirror), plain.predict_proba(batch), atol=1e-3)


@pytest.mark.parametrize("kind,loader", [("forest", "joblib.load"), ("mlp", "keras.models.load_model"),
                                         ("majority", None)])
def test_tampered_file_is_refused_and_not_loaded(tmp_path, models, monkeypatch, kind, loader):
    path = tmp_path / f"run-2{artifacts.suffix_for(kind)}"
    digest = artifacts.save(models[kind], kind, path)
    with open(path, "ab") as fh:
        fh.write(b"\x00")
    calls = []
    if loader:
        module, name = loader.rsplit(".", 1)
        import importlib
        monkeypatch.setattr(importlib.import_module(module), name, lambda *a, **k: calls.append(a))
    with pytest.raises(ArtifactError) as info:
        artifacts.load(str(path), digest, kind)
    text = str(info.value)
    assert "SHA-256" in text and str(path) in text and "not loaded" in text
    assert calls == []  # the deserialiser was never reached


def test_missing_file_and_missing_record(tmp_path):
    path = tmp_path / "gone.joblib"
    with pytest.raises(ArtifactError, match="is missing") as info:
        artifacts.load(str(path), "0" * 64, "forest")
    assert str(path) in str(info.value)
    for p, sha in ((None, "0" * 64), (str(path), None), ("", "")):
        with pytest.raises(ArtifactError, match="no saved model"):
            artifacts.load(p, sha, "forest")


def test_failed_save_leaves_no_temp_file_and_no_target(tmp_path, monkeypatch):
    target = tmp_path / "run-3.json"

    def half_written(model, kind, tmp):
        tmp.write_text("{\"lab")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(artifacts, "_write", half_written)
    with pytest.raises(OSError, match="disk full"):
        artifacts.save(MajorityModel(3), "majority", target)
    assert sorted(tmp_path.iterdir()) == []  # neither a temporary file nor a half-written target


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "run-4.json"
    digest = artifacts.save(MajorityModel(3), "majority", target)
    monkeypatch.setattr(artifacts, "_write", lambda m, k, tmp: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        artifacts.save(MajorityModel(5), "majority", target)
    assert independent_sha(target) == digest
    assert artifacts.load(str(target), digest, "majority").label == 3
    assert [p.name for p in tmp_path.iterdir()] == ["run-4.json"]


def test_suffixes():
    assert artifacts.suffix_for("majority") == ".json"
    assert artifacts.suffix_for("forest") == ".joblib"
    assert {artifacts.suffix_for(k) for k in ("mlp", "cnn", "resnet")} == {".keras"}
