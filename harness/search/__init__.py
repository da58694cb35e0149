"""The search (`python -m harness search`): draws cases a family allows (strategies), runs them on every path and
judges them (runner, relations, known), shrinks each new disagreement with Hypothesis (engine, polish), and writes
the minimal cases, their reproducers and a report (writer, yamltext)."""
