"""The fault suite's table: every scenario's counts, printed at the end of the session (also without -s)."""

from tests.faults.workload import OUTCOMES, table


def pytest_terminal_summary(terminalreporter) -> None:
    if OUTCOMES:
        terminalreporter.write_sep("=", "faults: acknowledged writes found exactly once, lost, duplicated")
        terminalreporter.write_line(table(OUTCOMES))
