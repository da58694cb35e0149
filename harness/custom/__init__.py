"""A user's own loss: `harness.check`, the pytest assertion, and custom paths declared in the config file."""
