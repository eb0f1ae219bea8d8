from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

wb = Workbook()
ws = wb.active
ws.title = "Sales"
ws.append(["Quarter", "Revenue"])
for q, v in [("Q1", 2.1), ("Q2", 2.8), ("Q3", 3.2), ("Q4", 3.9)]:
    ws.append([q, v])
ws["A6"] = "Total"
ws["B6"] = "=SUM(B2:B5)"
chart = BarChart()
chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=5), titles_from_data=True)
ws.add_chart(chart, "D2")
wb.save("sales.xlsx")
print("wrote sales.xlsx")
