"""Entry point for `python -m harness.bench`."""

import sys

from harness.bench.bench import main

sys.exit(main())
