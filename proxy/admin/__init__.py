"""Admin access and pages under the prefix: authentication and the adoption dashboard."""
