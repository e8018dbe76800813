"""Targets: how a volume service exports volume files to hosts.

``build_target(options, state_dir=..., backend=...)`` reads the backend's config section:

* ``target_protocol``: ``iscsi`` (default; tgt, see ``firebrick.targets.tgt``) or ``nbd``
  (qemu-nbd, see ``firebrick.targets.nbd``). It is Cinder's ``driver_volume_type``.
* ``target_ip_address`` (default ``127.0.0.1``): the address hosts connect to.
* iSCSI: ``target_port`` (3260), ``target_prefix`` (``iqn.2010-10.org.openstack:``),
  ``tgt_control_port`` (the ``tgtd -C`` number, 1..32767; default derived from the backend
  name).
* NBD: ``nbd_port_min``/``nbd_port_max`` (10809/10909), ``nbd_tls`` (false).

connection_info ``data`` for ``iscsi`` (Cinder's shape): ``target_discovered`` (false),
``target_iqn`` (``<prefix>volume-<id>``), ``target_portal`` (``ip:port``), ``target_lun``
(1), ``volume_id``, ``auth_method`` (``CHAP``), ``auth_username``, ``auth_password``
(per attachment), ``discard`` (false). For ``nbd``: see ``firebrick.targets.nbd``.
"""

from firebrick.targets.base import (
    Credentials,
    Export,
    InvalidConnector,
    Target,
    TargetError,
    build_target,
)

__all__ = ["Credentials", "Export", "InvalidConnector", "Target", "TargetError", "build_target"]
