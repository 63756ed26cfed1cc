"""PyTorch text classifiers for the retail tasks (imported only when a model is built)."""
