"""`make bench`: the harness's cost as ratios against the frameworks' own, measured in the same run."""
