"""aiaas vertical for retail: product-review analysis (sentiment, star rating)."""
