"""One log-level vocabulary for the whole platform: OpenTelemetry severity (the log data model's SeverityNumber
1-24 in six bands of four, TRACE 1-4 ... FATAL 21-24, and their short names TRACE, TRACE2 ... FATAL4) plus the
level names other logging systems use (syslog, Python, log4j, .NET, Go), mapped once. The gateway uses it to turn
the level of an ingested record into a severity number; the observability service uses it to read `?level=` and
to name the level of a stored record. Matching is case-insensitive.
"""

from __future__ import annotations

# The six levels, in order; a level's band is SeverityNumber 4*i+1 .. 4*i+4.
LEVELS: tuple[str, ...] = ("trace", "debug", "info", "warn", "error", "fatal")

# Other names for a level, and the severity number each one stands for. The syslog and Python names follow the
# OpenTelemetry SDKs and the log data model's mapping appendix where it fits one number (notice -> INFO2); every
# name stronger than error (critical, alert, emergency, panic) is FATAL, as the Python and .NET SDKs map CRITICAL.
ALIASES: dict[str, int] = {
    "verbose": 1, "finest": 1, "finer": 2,
    "dbg": 5, "fine": 5,
    "information": 9, "informational": 9, "notice": 10,
    "warning": 13,
    "err": 17,
    "critical": 21, "crit": 21, "alert": 21, "emergency": 21, "emerg": 21, "panic": 21,
}

# Every accepted name (lower case) -> its severity number: the short names, then the aliases.
NUMBERS: dict[str, int] = {
    **{level + (str(step + 1) if step else ""): i * 4 + 1 + step for i, level in enumerate(LEVELS) for step in range(4)},
    **ALIASES,
}
# The same names as a case-insensitive pattern, for request schemas that validate before any Python runs.
PATTERN = "(?i)^(" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + ")$"


def severity_number(text: str) -> int:
    """The severity number a level name stands for (`warning` -> 13, `INFO2` -> 10), 0 when unknown."""
    return NUMBERS.get(text.strip().lower(), 0)


def level_of(number: int) -> str:
    """The level (band) of a severity number: 1-4 trace ... 21-24 fatal; '' for 0 (unspecified)."""
    if number <= 0:
        return ""
    return LEVELS[min((number - 1) // 4, len(LEVELS) - 1)]


def level_name(text: str) -> str:
    """The level a name belongs to (`warning` -> `warn`, `crit` -> `fatal`), '' when the name is unknown."""
    return level_of(severity_number(text))


def short_name(number: int) -> str:
    """The OpenTelemetry short name of a severity number (9 -> INFO, 10 -> INFO2), '' for 0."""
    if number <= 0:
        return ""
    number = min(number, 24)
    step = (number - 1) % 4
    return level_of(number).upper() + (str(step + 1) if step else "")
