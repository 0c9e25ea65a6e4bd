# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: what the modules behind the role and the playbooks share."""

from __future__ import annotations


class ModuleDocFragment:
    # The attributes safe_change_step, safe_change_hold and safe_change_batches share; check_mode and platform
    # differ per module.
    DOCUMENTATION = r"""
attributes:
  action:
    description: Runs on the Ansible controller as an action plugin.
    support: full
  async:
    description: The module cannot run asynchronously.
    support: none
  diff_mode:
    description: The module reports no diff.
    support: none
"""
