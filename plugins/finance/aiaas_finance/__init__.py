"""aiaas-finance: fraud detection on card transactions (task ``finance/fraud``)."""
