"""The notebook's models, its baselines and our own, as named RunConfigs."""
from __future__ import annotations

from dataclasses import dataclass

from fmnist.config import ConvBlock, ModelSpec, RunConfig

D2 = 0.2


@dataclass(frozen=True)
class Reported:
    """What the notebook reported for a preset (None where it reported nothing)."""
    params: int | None
    train: float
    val: float
    test: float
    epochs: str


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    config: RunConfig
    notebook: Reported | None
    blurb: str


def _keras(model: ModelSpec, batch: int, es: bool, epochs: int = 100, **kw) -> RunConfig:
    return RunConfig(model=model, batch_size=batch, epochs=epochs, early_stopping=es, **kw)


def _all() -> list[Preset]:
    fc3 = (255, 1020, 510)
    head = dict(flatten_dropout=D2, dense=(255, 127), dropout=(D2, D2))
    return [
        Preset("majority", "Majority class", RunConfig(ModelSpec("majority"), epochs=1),
               Reported(None, 0.1024, 0.0944, 0.1000, "-"),
               "Always predicts the most frequent training label: the floor any model must beat."),
        Preset("forest", "Random forest", RunConfig(ModelSpec("forest", n_estimators=100), epochs=1),
               Reported(None, 1.0000, 0.8812, 0.8699, "-"),
               "scikit-learn's RandomForestClassifier (100 trees) on the 784 raw pixels, all cores."),
        Preset("mlp1", "Single hidden layer", _keras(ModelSpec("mlp", dense=(255,)), 512, False),
               Reported(202_735, 0.9575, 0.8867, 0.8764, "100"),
               "Flatten, Dense 255 relu: the first neural network, 100 epochs, no early stopping."),
        Preset("mlp3", "3 hidden layers", _keras(ModelSpec("mlp", dense=fc3), 32, False),
               Reported(987_115, 0.9834, 0.8914, 0.8855, "100"),
               "Dense 255, 1020, 510: deeper and wider; overfits without regularisation."),
        Preset("mlp3_reg", "Regularized 3 hidden", _keras(ModelSpec("mlp", dense=fc3, dropout=(D2, D2, 0.0)), 32, True),
               Reported(987_115, 0.9473, 0.8928, 0.8878, "ES (37)"),
               "The same network with dropout 0.2 after the first two layers and early stopping."),
        Preset("mlp5_reg", "Regularized 5 hidden",
               _keras(ModelSpec("mlp", dense=(255, 510, 2040, 1020, 255), dropout=(D2, D2, D2, D2, 0.0)), 32, True),
               Reported(3_717_910, 0.9390, 0.8948, 0.8885, "ES (37)"),
               "Five hidden layers up to 2040 units, dropout 0.2 between them, early stopping."),
        Preset("cnn1", "Single CNN", _keras(ModelSpec("cnn", conv=(ConvBlock(32, 3, 2),), **head), 512, True),
               Reported(1_413_407, 0.9842, 0.9146, 0.9109, "ES (34)"),
               "One 3x3 convolution with 32 filters and max pooling, then a dense head with dropout."),
        Preset("cnn2", "Multi CNN",
               _keras(ModelSpec("cnn", conv=(ConvBlock(64, 3, 2), ConvBlock(32, 3, 0), ConvBlock(32, 3, 0)), **head),
                      512, True),
               Reported(723_359, 0.9885, 0.9174, 0.9158, "ES (36)"),
               "Three convolutions (64, 32, 32 filters): fewer parameters than the single CNN, better accuracy."),
        Preset("resnet", "Pre-trained ResNet50",
               _keras(ModelSpec("resnet", dense=(256,), input_size=32, fine_tune=0), 32, False, epochs=10),
               Reported(24_114_826, 0.7822, 0.7833, 0.7732, "10"),
               "ImageNet ResNet50, frozen, on 28x28 images grown to 32x32: the notebook's transfer attempt."),
        Preset("resnet_ft", "ResNet50, 96 px, fine-tuned",
               _keras(ModelSpec("resnet", dense=(256,), input_size=96, fine_tune=22), 64, True, epochs=10,
                      learning_rate=1e-4, patience=3),
               None,
               "The fix the notebook guessed at: larger input (96x96) and the top block of the base trained."),
        Preset("lab_best", "Lab best CNN",
               _keras(ModelSpec("cnn", conv=(ConvBlock(32, 3, 0, True, "same"), ConvBlock(32, 3, 2, True, "same"),
                                             ConvBlock(64, 3, 0, True, "same"), ConvBlock(64, 3, 2, True, "same")),
                                flatten_dropout=0.1, dense=(256,), dropout=(0.25,), batch_norm=True),
                      # the epochs that fit in 13.5 minutes, at most 100: 72 on a 2-core CPU with AMX, its cosine
                      # decayed on the clock (see the README)
                      128, False, epochs=100, augment=True, flip_average=True, label_smoothing=0.1,
                      lr_schedule="cosine", learning_rate=2e-3, optimizer="adamw", minutes=13.5, precision="auto"),
               None,
               ("Our own: a batch-normalised VGG-style CNN (two 3x3 convolutions before each pooling) with "
                "augmentation, label smoothing, a cosine schedule, bfloat16 where the machine has it, and "
                "predictions averaged with the mirror image, in at most 13.5 minutes of training. "
                "Measured on a 2-core CPU with AMX, two seeds: 72 epochs, 13.5-13.6 minutes, val 0.950-0.952, "
                "test 0.948-0.950.")),
    ]


NOTEBOOK_KEYS = ("majority", "forest", "mlp1", "mlp3", "mlp3_reg", "mlp5_reg", "cnn1", "cnn2", "resnet")


def all_presets() -> dict[str, Preset]:
    return {p.key: p for p in _all()}


def get(key: str) -> Preset:
    presets = all_presets()
    if key not in presets:
        raise KeyError(f"unknown preset {key!r}; choose one of: {', '.join(presets)}")
    return presets[key]


def config_for(key: str, **overrides) -> RunConfig:
    """The preset's config with its name and preset key set, and any fields overridden."""
    preset = get(key)
    return preset.config.with_(preset=key, name=overrides.pop("name", None) or preset.title, **overrides)
