"""Bottom layer: helpers that every other package may use (texts, number and date formats)."""
