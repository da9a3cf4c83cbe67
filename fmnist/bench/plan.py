"""How big each benchmark is: the full run, or the quick smoke test that CI runs in well under a minute."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    quick: bool
    reps: int                  # alternating pairs for cheap comparisons
    fit_reps: int              # alternating pairs for comparisons that train a network
    epochs: int                # per timed fit; the first epoch (graph tracing) is never timed
    train_n: int | None        # training images for mlp1-sized work (None = all 42,000)
    val_n: int | None          # validation images (None = all 18,000)
    test_n: int | None         # test images (None = all 10,000)
    small_n: int               # training images for batch-32 and CNN work, which is 10-40x slower an image
    forest_n: int              # training images for the random forest comparison
    nb_epochs: int             # epochs of the notebook-vs-lab whole runs
    probe_reps: int            # alternating pairs of fresh processes for threading settings
    scale_sizes: tuple[int, ...]
    scale_params_n: int        # training images for the parameter-count sweep
    predict_calls: int         # single-image calls straight through the model
    predict_api_calls: int     # single-image model.predict calls (each 10x slower)
    page_reps: int             # fresh processes per page render
    store_runs: int            # finished runs in the results-page store
    latency_epochs: int        # epochs written for the live-chart latency
    overhead_presets: tuple[str, ...] = ("mlp1", "mlp3", "lab_best")
    long_n: int = 21_000       # training images of the overhead's long epochs (lab_best: about 10 s each)
    batchnorm_n: int = 10_500  # batchnorm: training images of each timed lab_best fit
    load_sessions: int = 40    # browser sessions of the class (issue 10: forty students)
    load_seconds: float = 300  # how long they watch and click
    slots_n: int = 3_000       # training images of each of the two runs timed at once and one after another
    slots_epochs: int = 3
    slots_reps: int = 2        # alternating pairs of (at once, one after another)
    cluster_n: int = 1_000     # training images of each run timed through Ray and through the local executor
    cluster_epochs: int = 3
    cluster_reps: int = 3      # alternating pairs of (local, ray) runs
    cluster_readers: int = 16  # threads polling the store as a class's sessions do, while one writer writes
    cluster_store_s: float = 10  # how long each store side is measured, each repetition
    cluster_store_reps: int = 2  # alternating pairs of (SQLite, PostgreSQL)
    cluster_store_runs: int = 200  # finished runs in the store the readers list
    budget_minutes: tuple[float, ...] = (5.0, 10.0, 13.5)  # lab: lab_best's time budgets
    budget_seeds: tuple[int, ...] = (20240329, 1)
    budget_n: int | None = None  # lab: training images (None = all 42,000)


FULL = Plan(quick=False, reps=5, fit_reps=4, epochs=3, train_n=None, val_n=None, test_n=None,
            small_n=3_000, forest_n=10_000, nb_epochs=3, probe_reps=2,
            scale_sizes=(2_500, 5_000, 10_000, 42_000), scale_params_n=5_000,
            predict_calls=200, predict_api_calls=20, page_reps=3, store_runs=10_000, latency_epochs=50)

QUICK = Plan(quick=True, reps=2, fit_reps=1, epochs=2, train_n=300, val_n=200, test_n=200,
             small_n=200, forest_n=300, nb_epochs=2, probe_reps=1,
             scale_sizes=(200, 400), scale_params_n=200,
             predict_calls=50, predict_api_calls=3, page_reps=1, store_runs=10_000, latency_epochs=10,
             overhead_presets=("mlp1",), load_sessions=4, load_seconds=20, slots_n=500, slots_epochs=2, slots_reps=1,
             cluster_n=500, cluster_reps=1, cluster_readers=4, cluster_store_s=3,
             cluster_store_reps=1, cluster_store_runs=40, budget_minutes=(0.05,), budget_seeds=(20240329,),
             budget_n=500, batchnorm_n=300)


def plan_for(quick: bool) -> Plan:
    return QUICK if quick else FULL
