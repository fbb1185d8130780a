"""Simulated endpoints, one module per Genesys API area."""
