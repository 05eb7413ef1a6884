"""The owner's start page, the audit trail browser and the language switch."""
