"""Knowledge-tracing models: DKT on Keras and PyTorch, SAKT on PyTorch."""
