"""Data-subject rights: requests with deadlines (Art. 12-22)."""
