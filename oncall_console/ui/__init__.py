"""The Textual UI: renders engine state and sends engine commands. No IO here."""
