"""The spreadsheet formula evaluator, now in the package (:mod:`promptkiln.checks.formula`),
where the content checks use it too; kept here under its old name for the checkers."""

from __future__ import annotations

from promptkiln.checks.formula import evaluate_workbook

__all__ = ["evaluate_workbook"]
