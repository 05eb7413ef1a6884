"""Security kernel: field encryption, blind indexes, signed links, password hashing."""
