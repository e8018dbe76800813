"""The domain core: model, statuses, errors and the arithmetic of capacity and quota.

Nothing in this package touches a database, the network or the filesystem.
"""
