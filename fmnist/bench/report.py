"""The benchmark report: a readable table for the terminal, and the JSON file."""
from __future__ import annotations

import json
from pathlib import Path

from fmnist import files
from fmnist.bench.measure import short

HEADERS = ("name", "figure", "unit", "median", "spread (min-max)", "ratio", "target", "note")


def rows(report: dict) -> list[tuple[str, ...]]:
    out = []
    for r in report["results"]:
        target = ""
        if r["target"]:
            target = f"{r['target']} ({'met' if r['met'] else 'MISSED'})"
        ratio = f"{r['ratio']:.3f} vs {r['vs'].rsplit('.', 1)[-1]}" if r["ratio"] is not None else ""
        out.append((r["name"], r["figure"], r["unit"], short(r["median"]),
                    f"{short(r['min'])}-{short(r['max'])} (n={r['n']})", ratio, target, r["note"]))
    for s in report["skipped"]:
        out.append((s["name"], "skipped", "", "-", "-", "", "", s["reason"]))
    return out


def table(report: dict) -> str:
    body = rows(report)
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(HEADERS)]
    widths[-1] = 0  # the note runs to the end of the line
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(HEADERS), line(tuple("-" * max(w, 4) for w in widths))]
    out += [line(row) for row in body]
    return "\n".join(out)


def text(report: dict) -> str:
    """Everything a person reads: the table, the findings, the small tables, any errors."""
    parts = [table(report)]
    if report["notes"]:
        parts.append("Findings:\n" + "\n".join(f"- {n}" for n in report["notes"]))
    for name, tab in report["tables"].items():
        if tab:
            cols = list(tab[0])
            cells = [[_cell(row[c]) for c in cols] for row in tab]
            widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
            lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [cols, *cells]]
            parts.append(f"{name}:\n" + "\n".join(lines))
    for err in report["errors"]:
        parts.append(f"ERROR in group {err['group']}: {err['error']}")
    m = report["machine"]
    parts.append(f"{m['cpus']} CPUs, load average {m.get('load_average_at_start')} at the start, "
                 f"{m.get('load_average_at_end')} at the end; "
                 f"{report['seconds']:.0f} s in all{' (quick mode: tiny sizes)' if report['quick'] else ''}: "
                 + ", ".join(f"{g} {s:.0f} s" for g, s in report.get("group_seconds", {}).items()) + ".")
    return "\n\n".join(parts)


def _cell(value) -> str:
    if isinstance(value, float):
        return short(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_json(report: dict, path: Path) -> None:
    """A reader never sees half a report."""
    files.write_bytes(path, json.dumps(report, indent=2).encode())
