"""Deterministic input files for the evaluation tasks (seeded; the same bytes on every run).

Each generator returns the file's bytes; :data:`INPUTS` maps a file name to its generator, and
:func:`table` gives the rows back to checkers, so expected values are computed, not typed in.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable

from datasets import DATASETS
from datasets import csv_bytes as _csv

REGIONS = ["North", "South", "East", "West", "Central"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def sales() -> bytes:
    """Transactions: date, region, product, units, revenue (120 rows)."""
    rng = random.Random(7)
    rows: list[list[object]] = []
    for i in range(120):
        month = 1 + i % 6
        region = rng.choice(REGIONS)
        units = rng.randint(1, 40)
        price = rng.choice([9.5, 12.0, 24.0, 49.0])
        rows.append(
            [
                f"2024-{month:02d}-{1 + i % 28:02d}",
                region,
                rng.choice("ABCD"),
                units,
                round(units * price, 2),
            ]
        )
    return _csv(["date", "region", "product", "units", "revenue"], rows)


def sales_by_region() -> bytes:
    rng = random.Random(11)
    rows = [[r, *(rng.randint(80, 400) * 1000 for _ in range(4))] for r in REGIONS]
    return _csv(["region", "q1", "q2", "q3", "q4"], rows)


def region_revenue() -> bytes:
    rng = random.Random(13)
    return _csv(["region", "revenue"], [[r, rng.randint(100, 900) * 1000] for r in REGIONS])


def monthly() -> bytes:
    rng = random.Random(3)
    return _csv(
        ["month", "visitors"],
        [[m, rng.randint(12, 60) * 1000 + rng.randint(0, 999)] for m in MONTHS],
    )


def products() -> bytes:
    rng = random.Random(5)
    names = [
        "Anvil",
        "Bolt",
        "Crate",
        "Drill",
        "Easel",
        "Funnel",
        "Gear",
        "Hinge",
        "Iron",
        "Jack",
        "Kettle",
        "Ladder",
    ]
    return _csv(
        ["product", "units", "price"],
        [[n, rng.randint(20, 300), round(rng.uniform(2, 90), 2)] for n in names],
    )


def scores() -> bytes:
    rng = random.Random(17)
    return _csv(
        ["student", "score"], [[f"S{i:03d}", round(rng.gauss(70, 12), 1)] for i in range(60)]
    )


def grades() -> bytes:
    rng = random.Random(19)
    names = ["Ana", "Ben", "Caro", "Dev", "Eli", "Fay"]
    return _csv(
        ["student", "test1", "test2", "test3"],
        [[n, *(rng.randint(50, 100) for _ in range(3))] for n in names],
    )


def measurements() -> bytes:
    rng = random.Random(23)
    rows = []
    for i in range(50):
        x = round(i * 0.5, 1)
        rows.append([x, round(2.0 * x + 1 + rng.gauss(0, 1.5), 2)])
    return _csv(["x", "y"], rows)


INPUTS: dict[str, Callable[[], bytes]] = {
    "sales.csv": sales,
    "sales_by_region.csv": sales_by_region,
    "region_revenue.csv": region_revenue,
    "monthly.csv": monthly,
    "products.csv": products,
    "scores.csv": scores,
    "grades.csv": grades,
    "measurements.csv": measurements,
    **DATASETS,
}


def table(name: str) -> list[dict[str, str]]:
    """The rows of input ``name`` as dicts (header -> text; a JSON null is "")."""
    if name.endswith(".json"):
        import json

        return [
            {k: "" if v is None else str(v) for k, v in row.items()}
            for row in json.loads(INPUTS[name]())
        ]
    return list(csv.DictReader(io.StringIO(INPUTS[name]().decode())))
