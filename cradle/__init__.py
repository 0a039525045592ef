"""Cradle: a privacy-first video portal for neonatal intensive care units."""
