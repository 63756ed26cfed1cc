"""The core's neural architectures any task of a modality can train (the general
tabular MLP on both runtimes); each module imports its framework when built."""
