"""Implementation of ``xtrace.scipy``: special functions and statistical distributions."""
