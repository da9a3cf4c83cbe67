"""How a run is named on screen: one short name, and the longer forms the pickers need.

They differ on purpose, each showing what its choice turns on:
- short: "#12 Single hidden layer", where a run is one line or point among several and its figures are
  shown beside it (curve legends, the scatter, the overlay picker, the queue, the table's caption);
- with_status: the Train page's picker and heading, over runs of every state and every user;
- model_choice: the pickers of a trained model to use (Sketch, Inside, `fmnist predict`), which say
  what kind of network it is;
- final_choice: the Results page's final-model picker, ranked by validation accuracy, which it shows as
  the table does (two decimals)."""
from __future__ import annotations

from fmnist.store import Run


def short(run: Run) -> str:
    """'#12 Single hidden layer'"""
    return f"#{run.id} {run.name}"


def with_status(run: Run) -> str:
    """'#12 Single hidden layer · finished · val 0.8867 · alice': a run still going has no accuracy yet."""
    parts = [short(run), run.status]
    if run.val_acc is not None:
        parts.append(f"val {run.val_acc:.4f}")
    if run.user:
        parts.append(run.user)
    return " · ".join(parts)


def model_choice(run: Run) -> str:
    """'#12 Single hidden layer (mlp1, validation 88.7%)'"""
    val = f", validation {run.val_acc:.1%}" if run.val_acc is not None else ""
    return f"{short(run)} ({run.preset}{val})"


def final_choice(run: Run) -> str:
    """'#12 Single hidden layer · val 88.67%': stable, nothing in it changes when the test evaluation is
    opened, so the choice (and a link that names the run) holds."""
    return f"{short(run)} · val {run.val_acc:.2%}"
