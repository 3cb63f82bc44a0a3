# Integration tests are scripts run by tests/run-tests.sh; nothing to build.
