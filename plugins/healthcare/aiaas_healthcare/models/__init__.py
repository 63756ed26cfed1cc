"""PyTorch image classifiers for the healthcare tasks (imported only when a model is built)."""
