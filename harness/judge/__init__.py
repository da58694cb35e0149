"""Judging: tolerances from error analysis, comparison and verdicts, relations, and the known differences."""
