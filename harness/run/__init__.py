"""Running: the pytest plugin that turns cases into trials, the scheduler, the per-framework runner, the console."""
