"""The baseline for the page benchmark: a bare Flask app whose one page renders one Jinja
template (compiled once, then cached by Jinja) with a 50-row table. Nothing else: no database,
no session, no extensions."""

from __future__ import annotations

from flask import Flask, render_template
from jinja2 import DictLoader

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<h1>{{ title }}</h1>
<table>
  <thead><tr><th>#</th><th>Name</th><th>Country</th><th>Score</th></tr></thead>
  <tbody>
  {% for row in rows %}
    <tr><td>{{ row.number }}</td><td>{{ row.name }}</td><td>{{ row.country }}</td><td>{{ row.score }}</td></tr>
  {% endfor %}
  </tbody>
</table>
</body>
</html>
"""

ROWS = [
    {"number": n, "name": f"Company {n} <& Co>", "country": ("SG", "MY", "ID", "PH", "TH")[n % 5], "score": n * 7 % 100}
    for n in range(1, 51)
]

app = Flask(__name__)
app.jinja_loader = DictLoader({"page.html": PAGE})


@app.route("/")
def page():
    return render_template("page.html", title="Bare page", rows=ROWS)
