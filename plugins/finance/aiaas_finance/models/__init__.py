"""Model builders; each module imports its framework and is loaded only when used."""
