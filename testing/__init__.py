"""Contract-testing helpers: Hypothesis strategies derived from the XSDs. Being written."""
