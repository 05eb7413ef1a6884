"""Newsletter: lists, consented sign-up with double opt-in, unsubscribe, suppression, import."""
