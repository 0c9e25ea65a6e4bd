# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the operations of a safe_change run on the Hyper-V host.

``HostClient`` is the client _safe_change_steps.HostSteps wants (one method per operation, HostError on a
failure), carried out by the modules' own host client (HyperVHost: retries, recovery after a lost connection)
and, after a delete, by waiting for the disk merge as hyperv_checkpoint does.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ansible import constants as C
from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError, error_message
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._merge_wait import wait_for_merge
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_steps import HostSteps

display = Display()


def host_steps(connect: Callable[[], HyperVHost], run: dict[str, Any]) -> HostSteps:
    """The Hyper-V side of ``run`` over the connection ``connect`` opens (the task's, delegated to the host)."""
    client = HostClient(connect, run["options"]["safe_change_merge_timeout"],
                        describe=lambda error: error_message(error, run["vm"]))
    # COLOR_ERROR is set on ansible.constants from the configuration when it loads: no static type sees it.
    error_color = getattr(C, "COLOR_ERROR")
    return HostSteps(client, alert=lambda text: display.display(text, color=error_color),
                     progress=lambda text: display.display("%s: %s" % (run["host"], text)))


class HostClient:
    """The operations of a run on the Hyper-V host, as HostSteps wants them (see there).

    The connection is opened at the first operation: a run that stops before needs none.
    """

    def __init__(self, connect: Callable[[], HyperVHost], merge_timeout: int,
                 describe: Callable[[HostError], str]) -> None:
        self._connect = connect
        self._host: HyperVHost | None = None
        self._merge_timeout = merge_timeout
        self._delete_started = time.monotonic()
        self.describe = describe

    @property
    def host(self) -> HyperVHost:
        if self._host is None:
            self._host = self._connect()
        return self._host

    def node(self) -> str | None:
        """The inventory name of the Hyper-V host the operations ran on last: the guest's Hyper-V host, or the
        cluster node the client followed the VM to (None before the first operation)."""
        return self._host.host_name if self._host is not None else None

    def read(self, vm_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.host.get_vm_with_checkpoints(name=vm_name)

    def create(self, vm_id: str, name: str, checkpoint_type: str | None, known_ids: list[str], min_free_gb: float,
               since: str | None, vm_type: str | None) -> dict[str, Any]:
        return self.host.create_checkpoint(vm_id, name, checkpoint_type, known_ids=known_ids,
                                           min_free_bytes=free_space.min_free_bytes(min_free_gb), since=since,
                                           vm_type=vm_type)

    def delete(self, vm_id: str, checkpoint_id: str) -> dict[str, Any]:
        """Delete the checkpoint; the VM record after the delete (its ``merging`` says whether a merge runs)."""
        self._delete_started = time.monotonic()
        return self.host.remove_checkpoints(vm_id, [checkpoint_id])["vm"]

    def wait_for_merge(self, vm: dict[str, Any]) -> float:
        """Wait for the merge a delete started: the seconds since the delete began."""
        seconds, dummy = wait_for_merge(self.host, vm, self._merge_timeout, "after deleting checkpoints",
                                        started=self._delete_started)
        return seconds

    def restore(self, vm_id: str, checkpoint_id: str, power_state: str) -> dict[str, Any]:
        return self.host.restore_checkpoint(vm_id, checkpoint_id, power_state)

    def rename(self, vm_id: str, checkpoint_id: str, new_name: str) -> dict[str, Any]:
        return self.host.rename_checkpoint(vm_id, checkpoint_id, new_name)
