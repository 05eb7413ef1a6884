"""Representatives and related persons of a client (seed 004): mandates and their limits."""
