from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

styles = getSampleStyleSheet()
doc = SimpleDocTemplate("report.pdf", pagesize=A4)
doc.build(
    [
        Paragraph("Q1 sales report", styles["Title"]),
        Paragraph("Revenue grew in every region.", styles["Normal"]),
        Table([["Region", "Revenue"], ["North", "2.1M"], ["South", "2.8M"]]),
    ]
)
print("wrote report.pdf")
