"""The report: one self-contained index.html with its tables and charts, results.csv and summary.md."""
