"""The data subject hub: people, their client card, visits. Imports no other feature."""
