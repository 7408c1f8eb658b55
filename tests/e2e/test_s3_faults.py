"""Faults injected between cachectl and the store."""
import unittest

from s3case import Base  # noqa: F401
