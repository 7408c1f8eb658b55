"""The AWS credential chain, each source against loopback stand-ins."""
import unittest

from s3case import Base  # noqa: F401
