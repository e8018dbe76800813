"""Where Cinder's notifications go: the message bus (oslo.messaging), a log, or a file.

``firebrick.notifier.Notifier`` is what every role calls; this package holds the sinks it
sends to (``sinks``), the bounded background sender that keeps the bus off the request
path (``sender``), oslo.messaging's transport built from Cinder's options (``bus``) and the
usage audit (``audit``).
"""
