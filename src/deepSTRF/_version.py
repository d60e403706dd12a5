#: The version of the installed deepSTRF package (``major.minor.patch``).
__version__ = "0.2.0"
