"""fmnist.predict: run choice, model cache, probabilities, nearest training images, saliency,
the `predict` command, and the round trip through an uploaded picture."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmnist import artifacts, images, neighbours, nets, predict, presets, saliency
from fmnist.artifacts import ArtifactError, KerasModel, MajorityModel
from fmnist.config import ConvBlock, ModelSpec, RunConfig
from fmnist.data import CLASS_NAMES
from tests.playing import start_by_hand

REPO = Path(__file__).resolve().parents[1]
SMALL_CNN = ModelSpec("cnn", conv=(ConvBlock(16, 3, 2),), dense=(64,))
TINY_MLP = ModelSpec("mlp", dense=(32,))


# ---------------------------------------------------------------- helpers (the page tests use them too)


def fit(spec: ModelSpec, x: np.ndarray, y: np.ndarray, epochs: int = 2) -> KerasModel:
    import keras
    keras.utils.set_random_seed(1)
    model = nets.build(RunConfig(spec, preset="custom"))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    return KerasModel(model)


def add_finished_run(store, model, spec: ModelSpec, models_dir: Path, val_acc: float = 0.8, name: str = "tiny"):
    """A finished run in `store` whose saved model is `model`, as the runner would leave it."""
    run_id = store.create_run(RunConfig(spec, preset="custom", name=name))
    start_by_hand(store, run_id, os.getpid())
    path = models_dir / f"run-{run_id}{artifacts.suffix_for(spec.kind)}"
    digest = artifacts.save(model, spec.kind, path)
    store.finish(run_id, {"train_acc": val_acc, "val_acc": val_acc, "test_acc": None, "params": 0, "epochs": 1,
                          "seconds": 1.0, "model_path": str(path), "model_sha256": digest})
    return store.get(run_id)


def dark_on_light_png(image28: np.ndarray, factor: int = 10) -> bytes:
    """A Fashion-MNIST image as a user might photograph it: enlarged, dark item on white, RGB PNG."""
    big = 255 - np.kron(image28, np.ones((factor, factor), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(big).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(autouse=True)
def fresh_model_cache():
    predict._cached_model.cache_clear()
    yield
    predict._cached_model.cache_clear()


@pytest.fixture(scope="module")
def small_cnn(split) -> KerasModel:
    return fit(SMALL_CNN, split.x_train[:3000], split.y_train[:3000])


@pytest.fixture(scope="module")
def tiny_mlp(split) -> KerasModel:
    return fit(TINY_MLP, split.x_train[:1000], split.y_train[:1000])


# ---------------------------------------------------------------- runs


def test_default_run_is_the_finished_run_with_best_validation_accuracy(store, workspace, run_factory):
    assert predict.default_run(store) is None
    with pytest.raises(predict.PredictError, match="train a model first: python -m fmnist train cnn2"):
        predict.choose_run(store)
    majority = ModelSpec("majority")
    low = add_finished_run(store, MajorityModel(1), majority, workspace.models_dir, val_acc=0.10)
    best = add_finished_run(store, MajorityModel(2), majority, workspace.models_dir, val_acc=0.90)
    mid = add_finished_run(store, MajorityModel(3), majority, workspace.models_dir, val_acc=0.50)
    queued = run_factory("mlp1")
    failed = run_factory("mlp1", status="running")
    store.mark_failed(failed.id, "boom")

    assert predict.default_run(store).id == best.id
    assert [r.id for r in predict.finished_runs(store)] == [best.id, mid.id, low.id]
    assert predict.choose_run(store, low.id).id == low.id
    with pytest.raises(predict.PredictError, match=f"Run {queued.id} is queued; only a finished run"):
        predict.choose_run(store, queued.id)
    with pytest.raises(predict.PredictError, match="Run 999 does not exist"):
        predict.choose_run(store, 999)


# ---------------------------------------------------------------- model cache


def test_second_load_comes_from_the_cache(store, workspace, small_cnn, split, monkeypatch):
    run = add_finished_run(store, small_cnn, SMALL_CNN, workspace.models_dir)
    calls = []
    real_load = artifacts.load
    monkeypatch.setattr(artifacts, "load", lambda *a: calls.append(a) or real_load(*a))

    first = predict.load_model(store, run.id, workspace.models_dir)
    second = predict.load_model(store, run.id, workspace.models_dir)
    assert second is first and len(calls) == 1
    for image in split.x_test[:5]:  # (how fast a cached prediction is: `python -m fmnist bench --only inference`)
        predict.predict(predict.load_model(store, run.id, workspace.models_dir), image)
    assert len(calls) == 1


def test_a_model_trained_on_another_node_comes_out_of_the_store(store, workspace, tiny_mlp, split, tmp_path):
    """On a cluster the worker's file is on its node: the app copies the stored bytes out, checked, and loads them."""
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    run = add_finished_run(store, tiny_mlp, TINY_MLP, node_dir)
    data = Path(run.model_path).read_bytes()
    store.put_artifact(run.id, run.model_sha256, Path(run.model_path).suffix, data)
    Path(run.model_path).unlink()  # not on this machine
    model = predict.load_model(store, run.id, workspace.models_dir)
    local = workspace.models_dir / f"run-{run.id}{Path(run.model_path).suffix}"
    assert local.read_bytes() == data
    assert np.allclose(model.predict_proba(split.x_test[:20]), tiny_mlp.predict_proba(split.x_test[:20]), atol=1e-6)


def test_a_tampered_model_file_is_refused(store, workspace, tiny_mlp):
    run = add_finished_run(store, tiny_mlp, TINY_MLP, workspace.models_dir)
    with open(run.model_path, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ArtifactError, match="does not match its recorded SHA-256"):
        predict.load_model(store, run.id, workspace.models_dir)


def test_a_file_changed_after_loading_is_checked_again(store, workspace, tiny_mlp):
    run = add_finished_run(store, tiny_mlp, TINY_MLP, workspace.models_dir)
    predict.load_model(store, run.id, workspace.models_dir)
    with open(run.model_path, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ArtifactError, match="does not match its recorded SHA-256"):
        predict.load_model(store, run.id, workspace.models_dir)


# ---------------------------------------------------------------- probabilities


def test_probabilities_match_a_numpy_forward_pass(tiny_mlp, split):
    (w1, b1), (w2, b2) = [layer.get_weights() for layer in tiny_mlp.model.layers if layer.get_weights()]
    for image in split.x_val[:5]:
        hidden = np.maximum(image.reshape(-1) / 255.0 @ w1 + b1, 0)
        expected = softmax(hidden @ w2 + b2)
        probs = predict.predict(tiny_mlp, image)
        assert probs.shape == (10,)
        np.testing.assert_allclose(probs, expected, atol=1e-5)
        assert abs(probs.sum() - 1) < 1e-5


def test_top_k_is_ordered_by_probability():
    probs = np.array([0.05, 0.02, 0.30, 0.01, 0.02, 0.10, 0.05, 0.40, 0.03, 0.02])
    top = predict.top_k(probs, 3)
    assert [g.label for g in top] == [7, 2, 5]
    assert [g.name for g in top] == ["Sneaker", "Pullover", "Sandal"]
    assert [g.prob for g in top] == [0.40, 0.30, 0.10]
    assert str(top[0]) == "Sneaker 40.0%"
    assert [g.label for g in predict.top_k(probs, 10)] == sorted(range(10), key=lambda i: (-probs[i], i))


def test_predict_refuses_a_wrong_shape(tiny_mlp):
    with pytest.raises(ValueError, match="expected a 28x28 image"):
        predict.predict(tiny_mlp, np.zeros((28, 27), np.uint8))


# ---------------------------------------------------------------- nearest training images


def test_nearest_training_images_match_brute_force(split_workspace, split):
    train = split.x_train.reshape(len(split.x_train), -1).astype(np.float64)
    for query in [*split.x_test[:4], split.x_train[123]]:
        brute = np.sqrt(((train - query.reshape(-1)) ** 2).sum(axis=1))
        expected = np.lexsort((np.arange(len(brute)), brute))[:3]
        near = neighbours.nearest_training_images(split_workspace, query, k=3)
        np.testing.assert_array_equal(near.indices, expected)
        np.testing.assert_allclose(near.distances, brute[expected], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(near.images, split.x_train[expected])
        np.testing.assert_array_equal(near.labels, split.y_train[expected])
    assert near.indices[0] == 123 and near.distances[0] == 0  # a training image finds itself


# ---------------------------------------------------------------- saliency


def test_saliency_of_a_linear_toy_model_is_its_weights():
    """Only the rows 5..9 feed class 4: the map must be |weight|/255 there and exactly zero elsewhere."""
    import keras
    inputs = keras.Input(shape=(28, 28), dtype="uint8")
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="classes")(x))
    rng = np.random.default_rng(0)
    kernel = np.zeros((784, 10), np.float32)
    region = np.zeros((28, 28), bool)
    region[5:10] = True
    kernel[region.ravel(), 4] = rng.uniform(0.5, 2.0, region.sum())
    model.layers[-1].set_weights([kernel, np.zeros(10, np.float32)])
    image = np.full((28, 28), 200, np.uint8)  # class 4 gets the largest logit

    sal = saliency.saliency(KerasModel(model), image)
    assert sal.shape == (28, 28) and (sal >= 0).all()
    np.testing.assert_allclose(sal, np.abs(kernel[:, 4]).reshape(28, 28) / 255, rtol=1e-5, atol=1e-9)
    assert (sal[~region] == 0).all() and sal[region].min() > 0


@pytest.mark.parametrize("key", ["mlp1", "cnn2"])
def test_saliency_works_for_the_presets(key, split):
    import keras
    keras.utils.set_random_seed(2)
    model = KerasModel(nets.build(presets.config_for(key)))
    image = split.x_val[0]
    sal = saliency.saliency(model, image)
    assert sal.shape == (28, 28) and sal.dtype.kind == "f"
    assert np.isfinite(sal).all() and (sal >= 0).all() and sal.max() > 0
    # the float-input copy used for gradients computes the same probabilities as the model
    logits = saliency._logits_model(model.model)(image[None].astype(np.float32), training=False)
    np.testing.assert_allclose(softmax(np.asarray(logits))[0], predict.predict(model, image), atol=1e-5)


def test_saliency_of_a_loaded_cnn_is_nonzero_on_the_item(store, workspace, small_cnn, split):
    run = add_finished_run(store, small_cnn, SMALL_CNN, workspace.models_dir)
    image = split.x_val[1]
    sal = saliency.saliency(predict.load_model(store, run.id, workspace.models_dir), image)
    assert sal.shape == (28, 28) and (sal >= 0).all()
    assert sal[image > 0].mean() > 0


def test_saliency_needs_a_neural_network():
    assert saliency.saliency(MajorityModel(3), np.zeros((28, 28), np.uint8)) is None


# ---------------------------------------------------------------- pictures and the command line


def test_round_trip_through_an_uploaded_picture_keeps_the_cnns_answers(small_cnn, split):
    """200 test images enlarged 10x, dark on light, as PNG: the small CNN mostly answers as on the originals."""
    originals = split.x_test[:200]
    trips = np.stack([images.from_upload(dark_on_light_png(x)).final for x in originals])
    on_originals = small_cnn.predict_proba(originals).argmax(1)
    on_trips = small_cnn.predict_proba(trips).argmax(1)
    agreement = float(np.mean(on_originals == on_trips))
    accuracy = [np.mean(p == split.y_test[:200]) for p in (on_originals, on_trips)]
    print(f"round trip: same class on {agreement:.1%} of 200 test images "
          f"(accuracy {accuracy[0]:.1%} -> {accuracy[1]:.1%})")
    assert agreement >= 0.9


def test_classify_file_refuses_a_blank_picture(tmp_path, tiny_mlp):
    blank = tmp_path / "white.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    with pytest.raises(images.ImageError, match="looks blank"):
        predict.classify_file(tiny_mlp, blank)


def test_steps_row_gives_square_thumbnails_in_order():
    steps = images.preprocess(Image.fromarray(np.pad(np.full((40, 10), 255, np.uint8), 30)))
    row = predict.steps_row(steps, size=84)
    assert [caption for caption, _ in row] == list(predict.STEP_CAPTIONS)
    assert all(thumb.shape == (84, 84) for _, thumb in row)
    np.testing.assert_array_equal(row[-1][1], np.kron(steps.final, np.ones((3, 3), np.uint8)))


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FMNIST_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "fmnist", "predict", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)


def test_cli_predict_reports_every_file_and_fails_at_the_end(tmp_path, store, workspace, tiny_mlp, split):
    run = add_finished_run(store, tiny_mlp, TINY_MLP, workspace.models_dir, name="tiny mlp")
    good = tmp_path / "trouser.png"
    good.write_bytes(dark_on_light_png(split.x_test[2]))
    text = tmp_path / "notes.png"
    text.write_text("not a picture at all\n")
    missing = tmp_path / "missing.png"

    result = run_cli(workspace.home, str(good), str(text), str(missing), str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    expected = predict.top_k(predict.predict(tiny_mlp, images.from_upload(good.read_bytes()).final), 3)
    assert result.stdout.splitlines() == [
        f"model: #{run.id} tiny mlp (custom, validation 80.0%)",
        f"{good}: " + ", ".join(f"{CLASS_NAMES[g.label]} {g.prob:.1%}" for g in expected),
        f"{text}: error: This file is not an image Pillow can read (PNG, JPEG, GIF, BMP, WebP). "
        "Upload a picture file.",
        f"{missing}: error: No such file. Check the path.",
        f"{tmp_path}: error: This is a folder, not a picture file. Give the picture files inside it.",
    ]


def test_cli_predict_without_a_finished_run_says_train_first(tmp_path):
    result = run_cli(tmp_path / "empty-home", "anything.png")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: No finished run yet: train a model first: python -m fmnist train cnn2"
