"""Alert rules, their evaluation and delivery (issue 17)."""
