"""What a person reads after a run: the report's tables (``tables``), the one-screen text summary
(``summary``); the stage that writes the tables is ``stages.tables``."""
