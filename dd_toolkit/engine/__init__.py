"""The engine: question content, applicability, scoring, benchmarks, action plans, transparency
drafts and the documents made of them. Plain data in, plain data out; importing it loads neither
Flask nor the database layer (a test holds it to that)."""
