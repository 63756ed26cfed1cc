"""Model runtimes. ``base`` is the interface; ``torch`` and ``tensorflow`` import
their frameworks at module level and are only imported when a model is built or
loaded (the default plugin registers them by import path)."""
