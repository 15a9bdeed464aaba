"""End-to-end tests driving the real application in Debian's chromium through Playwright."""
