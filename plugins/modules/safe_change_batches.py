#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation of the module. The module is implemented by the action
# plugin plugins/action/safe_change_batches.py, which runs on the controller.

DOCUMENTATION = r"""
---
module: safe_change_batches
short_description: Serial batches that keep application groups whole (internal to playbooks/patch_window.yml)
version_added: 0.2.0
description:
  - The step of playbooks/patch_window.yml that plans its serial batches. It is documented so that its output can be
    read, not to be used in other playbooks. Its options may change in any release.
  - The guests of an application group (the same C(safe_change_group)) go into one batch, where the group's first
    member is; a batch is closed when the next group or guest would make it larger than O(batch_size). A group larger
    than O(batch_size) makes a batch of its own.
  - It runs on the controller and contacts no host.
options:
  hosts_to_batch:
    description: The guests, in inventory order.
    type: list
    elements: str
    default: []
  batch_size:
    description: Guests per batch, a number (V(5)) or a percentage (V(25%)).
    type: str
    default: "1"
attributes:
  check_mode:
    description: The module changes nothing; it runs in check mode as it runs otherwise.
    support: full
  platform:
    description: Runs on the controller only.
    support: full
    platforms: posix
extends_documentation_fragment:
  - hyperv.checkpoint._role_step
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
"""

EXAMPLES = r"""
# playbooks/patch_window.yml is the way to use this module:
- name: Batches that keep each application group whole (safe_change_group)
  hyperv.checkpoint.safe_change_batches:
    hosts_to_batch: "{{ ansible_play_hosts_all }}"
    batch_size: "25%"
  run_once: true
  register: patch_window_batches
"""

RETURN = r"""
hosts:
  description: The guests in batch order.
  returned: success
  type: list
  elements: str
  sample: ["db01", "web01", "app01"]
batches:
  description: The size of each batch, for C(serial).
  returned: success
  type: list
  elements: int
  sample: [2, 1]
"""
