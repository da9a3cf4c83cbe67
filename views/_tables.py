"""How the pages draw a summary table: short headers, numbers aligned right, room for a model's name."""
import streamlit as st

from fmnist import summary


def columns(frame) -> dict:
    numeric = summary.numeric_columns(frame)
    return {c: st.column_config.TextColumn(summary.SHORT_LABELS.get(c, c), width=summary.WIDTHS.get(c),
                                           alignment="right" if c in numeric else "left") for c in frame.columns}
