"""What both command lines share for people and machines: tables, progress, JSON, the error wrapper."""
