"""Administering a coordinator, running or stopped.

``operations`` is the one registry of named admin operations over a coordinator's store and data dir.
Two thin adapters reach it: ``listener`` (the serving coordinator's Unix socket, peer-checked) and
``dispatch`` (the command line: through the socket when the coordinator serves, on the store file when
it is stopped). ``protocol`` frames requests and answers; ``peercred`` checks who is on the socket.
"""
