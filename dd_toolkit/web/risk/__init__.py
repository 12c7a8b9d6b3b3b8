"""The children's risk register pages of an assessment (issue 14)."""
