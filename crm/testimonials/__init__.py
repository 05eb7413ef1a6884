"""Testimonials with consent per channel and medium, revocation, publications, public feed."""
