from docx import Document

doc = Document()
doc.add_heading("Memo", level=1)
doc.add_paragraph("The quarterly numbers are in.")
table = doc.add_table(rows=2, cols=2)
table.cell(0, 0).text = "Region"
table.cell(0, 1).text = "Revenue"
table.cell(1, 0).text = "North"
table.cell(1, 1).text = "2.1M"
doc.save("memo.docx")
print("wrote memo.docx")
