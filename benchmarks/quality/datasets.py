"""Realistic input files for the evaluation (seeded; the same bytes on every run).

Orders with cities, categories and missing discounts; daily temperatures per city; survey
answers per channel; employees per department; two years of monthly web traffic; support tickets
as JSON; store sales as an Excel workbook with a sheet per year; stock prices per ticker.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import zipfile
from collections.abc import Callable

CITIES = {
    "Lisbon": "West",
    "Madrid": "West",
    "Berlin": "Central",
    "Warsaw": "East",
    "Oslo": "North",
}
CATEGORIES = {
    "Furniture": ["Desk", "Chair", "Shelf"],
    "Electronics": ["Monitor", "Keyboard", "Headset"],
    "Stationery": ["Notebook", "Pen set", "Stapler"],
}
PRICES = {
    "Desk": 240.0, "Chair": 130.0, "Shelf": 85.0, "Monitor": 199.0, "Keyboard": 49.9,
    "Headset": 79.0, "Notebook": 4.5, "Pen set": 12.0, "Stapler": 9.9,
}  # fmt: skip
CUSTOMERS = ["Northwind Traders", "Blue Harbor Ltd", "Kestrel Labs", "Orchid Health", "Tallis & Co"]


def csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    """The rows as CSV, header first (the inputs of both splits are written with it)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def orders() -> bytes:
    """240 orders of 2024: order_id, order_date, customer, city, region, category, product,
    quantity, unit_price, discount (empty for about one in eight)."""
    rng = random.Random(101)
    rows: list[list[object]] = []
    start = dt.date(2024, 1, 1)
    for i in range(240):
        day = start + dt.timedelta(days=(i * 3 + rng.randint(0, 2)) % 366)
        city = rng.choice(list(CITIES))
        category = rng.choice(list(CATEGORIES))
        product = rng.choice(CATEGORIES[category])
        discount: object = "" if rng.random() < 0.125 else rng.choice([0, 0, 0.05, 0.1])
        rows.append(
            [
                f"SO-{1000 + i}", day.isoformat(), rng.choice(CUSTOMERS), city, CITIES[city],
                category, product, rng.randint(1, 12), PRICES[product], discount,
            ]
        )  # fmt: skip
    rows.sort(key=lambda r: (str(r[1]), str(r[0])))
    header = ["order_id", "order_date", "customer", "city", "region", "category", "product"]
    return csv_bytes([*header, "quantity", "unit_price", "discount"], rows)


def temperatures() -> bytes:
    """Daily mean temperature (°C) of three cities over the first 14 days of March 2024."""
    rng = random.Random(202)
    base = {"Oslo": 1.0, "Madrid": 13.0, "Cairo": 22.0}
    rows: list[list[object]] = []
    for d in range(14):
        day = dt.date(2024, 3, 1) + dt.timedelta(days=d)
        for city, t in base.items():
            rows.append([day.isoformat(), city, round(t + d * 0.3 + rng.gauss(0, 1.8), 1)])
    return csv_bytes(["date", "city", "temp_c"], rows)


def survey() -> bytes:
    """150 survey answers: response_id, date, channel, satisfaction (1-5), age_group, comment."""
    rng = random.Random(303)
    channels = ["Email", "Phone", "Chat", "In-store"]
    weights = [40, 25, 55, 30]
    rows: list[list[object]] = []
    for i in range(150):
        channel = rng.choices(channels, weights)[0]
        sat = min(5, max(1, round(rng.gauss({"Chat": 4.1, "Phone": 3.2}.get(channel, 3.7), 0.9))))
        comment = "" if rng.random() < 0.6 else rng.choice(["slow", "friendly", "ok", "great"])
        day = dt.date(2024, 5, 1) + dt.timedelta(days=i % 30)
        age = rng.choice(["18-29", "30-44", "45-59", "60+"])
        rows.append([f"R{i + 1:04d}", day.isoformat(), channel, sat, age, comment])
    return csv_bytes(
        ["response_id", "date", "channel", "satisfaction", "age_group", "comment"], rows
    )


def employees() -> bytes:
    """40 employees: employee_id, name, department, city, salary, hire_date, manager (empty for
    the heads of department)."""
    rng = random.Random(404)
    first = ["Ana", "Ben", "Chloe", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jonas"]
    last = ["Silva", "Novak", "Berg", "Costa", "Meyer", "Kaya", "Dubois", "Lund"]
    depts = {"Engineering": 95000, "Sales": 70000, "Finance": 80000, "Support": 52000}
    rows: list[list[object]] = []
    heads: dict[str, str] = {}
    for i in range(40):
        dept = list(depts)[i % 4]
        name = f"{first[i % 10]} {last[(i * 3) % 8]}"
        salary = round(depts[dept] * rng.uniform(0.8, 1.3), -2)
        hired = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 3400))
        manager = heads.setdefault(dept, name)
        city = rng.choice(list(CITIES))
        rows.append(
            [f"E{i + 1:03d}", name, dept, city, int(salary), hired.isoformat(),
             "" if manager == name else manager]
        )  # fmt: skip
    header = ["employee_id", "name", "department", "city", "salary", "hire_date", "manager"]
    return csv_bytes(header, rows)


def web_traffic() -> bytes:
    """Monthly visits, signups and revenue from 2023-01 to 2024-12."""
    rng = random.Random(505)
    rows: list[list[object]] = []
    visits = 42000
    for i in range(24):
        visits = int(visits * rng.uniform(0.93, 1.12))
        signups = int(visits * rng.uniform(0.02, 0.035))
        rows.append(
            [f"{2023 + i // 12}-{i % 12 + 1:02d}", visits, signups, round(signups * 31.5, 2)]
        )
    return csv_bytes(["month", "visits", "signups", "revenue"], rows)


def stock_prices() -> bytes:
    """Closing prices of three tickers on the 20 trading days from 2024-06-03."""
    rng = random.Random(606)
    prices = {"ACME": 50.0, "GLOBX": 120.0, "INITech": 18.0}
    rows: list[list[object]] = []
    day = dt.date(2024, 6, 3)
    count = 0
    while count < 20:
        if day.weekday() < 5:
            for t in prices:
                prices[t] = round(prices[t] * (1 + rng.gauss(0.002, 0.015)), 2)
                rows.append([day.isoformat(), t, prices[t]])
            count += 1
        day += dt.timedelta(days=1)
    return csv_bytes(["date", "ticker", "close"], rows)


def tickets() -> bytes:
    """80 support tickets as a JSON list: id, opened, team, priority, status, resolution_hours
    (null while a ticket is open)."""
    rng = random.Random(707)
    teams = ["Billing", "Platform", "Mobile"]
    out = []
    for i in range(80):
        status = "open" if rng.random() < 0.2 else "closed"
        opened = dt.date(2024, 9, 1) + dt.timedelta(days=rng.randint(0, 29))
        out.append(
            {
                "id": 5000 + i,
                "opened": opened.isoformat(),
                "team": rng.choice(teams),
                "priority": rng.choice(["low", "medium", "high"]),
                "status": status,
                "resolution_hours": None if status == "open" else round(rng.uniform(0.5, 72), 1),
            }
        )
    return json.dumps(out, indent=1).encode()


STORES = ["Porto", "Ghent", "Turin", "Leeds"]


def store_sales_rows(year: int) -> list[tuple[str, int, int]]:
    """(store, quarter, sales) of the ``year`` sheet of store_sales.xlsx."""
    rng = random.Random(year)
    return [(s, q, rng.randint(40, 160) * 1000) for s in STORES for q in (1, 2, 3, 4)]


def store_sales() -> bytes:
    """A workbook with a sheet per year (2023, 2024): store, quarter, sales."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for year in (2023, 2024):
        ws = wb.create_sheet(str(year))
        ws.append(["store", "quarter", "sales"])
        for row in store_sales_rows(year):
            ws.append(list(row))
    fixed = dt.datetime(2024, 1, 1)
    wb.properties.created = wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same archive with fixed entry times (openpyxl stamps the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            body = body.replace(b"\r\n", b"\n")
            entry = zipfile.ZipInfo(info.filename, (2024, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, body)
    return out.getvalue()


DATASETS: dict[str, Callable[[], bytes]] = {
    "orders.csv": orders,
    "temperatures.csv": temperatures,
    "survey.csv": survey,
    "employees.csv": employees,
    "web_traffic.csv": web_traffic,
    "stock_prices.csv": stock_prices,
    "tickets.json": tickets,
    "store_sales.xlsx": store_sales,
}
