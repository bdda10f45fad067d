"""The one writer of spreadsheet cells whose text comes from data: every CSV and XLSX export
writes its cells through here, so that nothing a portal, an operator or a configuration file
wrote can become a formula when the file is opened (OWASP, "CSV Injection").

A text starting with = + - @, a tab or a carriage return is what a spreadsheet may take for a
formula. In CSV, which has no types, such a text is written with a leading apostrophe (the
spreadsheet's own "this is text" mark), as OWASP advises. In XLSX every text is written as a
string cell, never a formula, and such a text also carries the cell's quote-prefix style, so
that editing it keeps it text; the visible value is the data, unchanged. Numbers stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell, MergedCell
    from openpyxl.worksheet.worksheet import Worksheet

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could take `text` for a formula."""
    return text.startswith(FORMULA_STARTS)


def csv_value(value: Any) -> Any:
    """A CSV cell: a formula-like text with a leading apostrophe; anything else as it is."""
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value


class CsvWriter:
    """csv.writer whose every cell goes through `csv_value`."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([csv_value(value) for value in row])


def xlsx_cell(ws: Worksheet, row: int, column: int, value: Any) -> Cell | MergedCell:
    """Write `value` at (row, column): a text as a string cell (never a formula), quote-prefixed
    if formula-like; a number, a date or None as it is."""
    cell = ws.cell(row=row, column=column)
    cell.value = value  # openpyxl takes a text starting with "=" for a formula...
    if isinstance(value, str):
        cell.data_type = "s"  # ...which it is not: a string
        if formula_like(value):
            cell.quotePrefix = True
    return cell
