# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: wait until a VM's disk merge has ended.

Hyper-V merges a deleted checkpoint's differencing disk in the background; the module hyperv_checkpoint
(before a change, after a delete) and the role safe_change (after its delete) poll the VM until the merge ends.
"""

from __future__ import annotations

import time
from typing import Any

from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost

display = Display()

MERGE_POLL_FIRST = 1.0
MERGE_POLL_MAX = 5.0


def wait_for_merge(host: HyperVHost, vm: dict[str, Any], timeout: float, why: str,
                   started: float | None = None) -> tuple[float, dict[str, Any]]:
    """Poll the VM until its disk merge ends; returns (seconds waited, the VM record then). Progress at -v."""
    started = time.monotonic() if started is None else started
    delay = MERGE_POLL_FIRST
    while vm.get("merging"):
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise HostError(
                "merge_timeout",
                "the disk merge of VM '%s' was still running %d seconds %s (timeout %d); it goes on in the "
                "background" % (vm["name"], elapsed, why, timeout),
                operation="wait_for_merge", host=host.host_name, details={"elapsed": int(elapsed)})
        display.v("VM '%s': disk merge running for %ds %s" % (vm["name"], elapsed, why), host=host.host_name)
        time.sleep(min(delay, max(0.1, timeout - elapsed)))
        delay = min(MERGE_POLL_MAX, delay * 1.5)
        vm = host.get_vm(vm_id=vm["id"])
    return round(time.monotonic() - started, 1), vm
