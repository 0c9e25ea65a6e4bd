#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation of the module. The module is implemented by the action
# plugin plugins/action/safe_change_hold.py, which runs on the controller.

DOCUMENTATION = r"""
---
module: safe_change_hold
short_description: Take the checkpoint of a change made by hand (internal to playbooks/checkpoint.yml)
version_added: 0.2.0
description:
  - The step of playbooks/checkpoint.yml, on the Hyper-V host (C(delegate_to)). It is documented so that its output can
    be read, not to be used in other playbooks. Its options may change in any release.
  - It takes the checkpoint of a change made by hand, named as the role C(hyperv.checkpoint.safe_change) names its own
    but ending in C(manual), one per change id; a second run for the same change id finds it and takes nothing.
  - Like the role's pre-flight it refuses a VM that another change's checkpoint locks (younger than O(lock_minutes)), a
    VM whose earlier revert failed, a clustered VM owned by another node than the Hyper-V host, and what Hyper-V
    refuses (checkpoints disabled, the limit, a disk merge running). Any power state will do.
  - A run of the role for the same change id with C(safe_change_stale_policy=reuse) adopts the checkpoint as its
    rollback point.
options:
  vm:
    description: The VM's name on the Hyper-V host. The inventory name when not set.
    type: str
  change_id:
    description: The change id (required), e.g. V(CHG0042).
    type: str
  name_prefix:
    description: The first word of the checkpoint's name.
    type: str
    default: safe_change
  requested_by:
    description: Who; goes into the checkpoint's name. The AWX user, else the controller's C($USER), when empty.
    type: str
    default: ""
  checkpoint_type:
    description:
      - The checkpoint type for this checkpoint; empty uses the VM's setting.
      - Hyper-V's spelling (V(Standard), V(Production), V(ProductionOnly), in any case) is accepted too.
    type: str
    default: ""
    choices: ["", standard, production, production_only]
  lock_minutes:
    description: A checkpoint of another change younger than this is that change's lock, and the module refuses.
    type: int
    default: 120
  operation_timeout:
    description: Seconds each Hyper-V operation may take.
    type: int
    default: 600
attributes:
  check_mode:
    description: In check mode the module only reads the Hyper-V host and says which checkpoint it would take.
    support: full
  platform:
    description: Targets a Windows Hyper-V host.
    support: full
    platforms: windows
seealso:
  - module: hyperv.checkpoint.safe_change_step
    description: The steps of the role, whose pre-flight refusals this module shares.
extends_documentation_fragment:
  - hyperv.checkpoint._role_step
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
"""

EXAMPLES = r"""
# playbooks/checkpoint.yml is the way to use this module:
- name: Take the checkpoint of the change on the Hyper-V host (one per change id)
  hyperv.checkpoint.safe_change_hold:
    vm: "{{ hyperv_vm_name | default(inventory_hostname, true) }}"
    change_id: "{{ change_id }}"
  delegate_to: "{{ hyperv_host }}"
  register: checkpoint_taken
"""

RETURN = r"""
checkpoint:
  description: The checkpoint taken or found.
  returned: success
  type: dict
  sample: {"id": "5b1c7e2a-0f3d-4c8e-9a6b-2d4e6f8a0b1c", "name": "safe_change CHG0042 by jane 2026-11-25T13:35:15Z manual",
           "vm_name": "web01", "reused": false, "state": "present"}
taken_type:
  description: The type of the checkpoint Hyper-V took (V(null) when none was taken).
  returned: success
  type: str
  sample: Production
fell_back:
  description: Hyper-V took a standard checkpoint because the guest could not be quiesced (V(null) when none was taken).
  returned: success
  type: bool
  sample: false
"""
