"""Explanation methods the core ships (registered by ``aiaas.default_plugins.explainers``)."""
