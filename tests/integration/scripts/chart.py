import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

with open("inputs/sales.csv", newline="") as f:
    rows = list(csv.DictReader(f))
regions = [r["region"] for r in rows]
revenue = [float(r["revenue"]) for r in rows]
fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
ax.bar(regions, revenue, color="#3b7dd8")
ax.set_title("Revenue by region")
fig.savefig("chart.png")
print(f"wrote chart.png with {len(rows)} bars")
