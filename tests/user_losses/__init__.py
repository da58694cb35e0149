"""A user's own softmax cross-entropy losses, one module per framework, for tests/test_custom_losses.py.

Each module has the same four: `correct` (log-softmax, with label smoothing, class and sample weights and every reduction),
`naive` (log of softmax), `clipped` (probabilities clipped to [1e-7, 1 - 1e-7], as the built-in
path naive:log(clip(softmax)) does) and `ignores_smoothing` (declares label_smoothing, ignores it; reductions narrowed by a Literal).
"""
