"""The raw-data zone: reading CRM exports and turning rows into match keys. Nothing here talks to the network.

One path for the three kinds of file (accounts, deals, touches):
``readers`` (the one reader: CSV through ``csvtext`` and ``encoding``, XLSX
through ``xlsx``, Parquet; what it skipped in ``readreport``) -> ``headers`` (the one header
vocabulary) -> ``rowkeys`` (the one row-to-keys rule, over ``keys/``) ->
``grouping`` (the one union-find: rows sharing a key are one account).
``accounts``, ``deals`` and ``touches`` assemble them per file kind, with
``columns`` and ``populations`` (accounts), ``amounts``, ``dates``, ``codes``
and ``cells`` (the values of deals and touches), and ``mapfile`` (JSON maps).
"""
