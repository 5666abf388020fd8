"""Test vectors shared with the PWA; see README.md. generate.py rebuilds them."""
