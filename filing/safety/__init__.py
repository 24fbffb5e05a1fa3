"""The safety side of the filing: risk taxonomy, safety thresholds, keyword library."""
