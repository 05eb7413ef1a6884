"""Staff accounts: login with argon2id passwords, TOTP MFA, server-side sessions, roles."""
