"""Adoption analytics: workflow runs, funnels, feature use, guide effect, and the report renderers."""
