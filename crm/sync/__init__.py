"""Sync with the mail providers: outbox delivery, pulled and pushed events, run reports."""
