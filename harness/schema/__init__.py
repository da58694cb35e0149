"""The case language: the model of a case, loading and checking case files, relation rules, generators, the parse cache."""
