"""Getting digests to people: SMTP through the outbox, Maildir, and static feed files."""
