#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation of the module. The module is implemented
# by the action plugin plugins/action/hyperv_host_probe.py, which runs on the
# controller and talks to the Hyper-V host over the task's connection.

DOCUMENTATION = r"""
---
module: hyperv_host_probe
short_description: Check how a Hyper-V host behaves against what this collection assumes
version_added: 0.2.0
description:
  - Runs experiments on one disposable virtual machine of a Hyper-V host and records what the host did. For example,
    whether C(Restore-VMSnapshot) starts a VM again by itself, whether C(Stop-VM -TurnOff) deletes an automatic
    checkpoint, how soon a disk merge shows after a delete, and which error id a busy VM gives.
  - Compares each observation with what the collection's scripts and its simulated host assume
    (RV(assumptions)), so that a host that behaves otherwise is found before a patch window, not in one.
  - B(The VM is changed.) The experiments switch its checkpoint type and automatic checkpoints, start, save, turn off
    and restore it, and take and delete checkpoints. Each experiment puts it back as it found it (power state,
    checkpoint type, automatic checkpoints, no checkpoint left), but the guest is interrupted and its disk is
    reverted to checkpoints taken seconds before. Use a VM made for the purpose.
  - The VM must have no checkpoints; otherwise the task fails with RV(error_code=vm_has_checkpoints) before anything
    is changed.
  - Use the playbook C(playbooks/probe_host.yml), which runs this module, times the collection's own operations on the
    same VM and writes a JSON report.
  - The module runs on the Ansible controller, as an action plugin, like M(hyperv.checkpoint.hyperv_checkpoint); point
    the task at the Hyper-V host.
extends_documentation_fragment: [hyperv.checkpoint._hyperv_host]
options:
  vm:
    description:
      - Name of the disposable virtual machine.
      - Exactly one of O(vm) and O(vm_id) is required. Mutually exclusive with O(vm_id).
    type: str
  vm_id:
    description:
      - Id (GUID) of the disposable virtual machine.
      - Exactly one of O(vm) and O(vm_id) is required. Mutually exclusive with O(vm).
    type: str
  experiments:
    description:
      - The experiments to run, in the order given. All of them when not set.
      - V(restore_running_standard), V(restore_running_production) and V(restore_off_standard) restore standard and
        production checkpoints with C(Restore-VMSnapshot) alone onto a running and an off VM and record its state.
      - V(remove_saved_state) saves the VM and discards the saved state. V(turn_off_automatic) starts the VM with
        automatic checkpoints on, then turns it off with C(Stop-VM -TurnOff).
      - V(checkpoint_default_name) takes a checkpoint without a name. V(production_fallback) takes one with the type
        C(Production) and records whether it holds memory and the VM's type afterwards.
      - V(merge_visibility) deletes a checkpoint and records when the merge shows and ends. V(busy_error) takes a
        checkpoint while another one is being taken and records the error id. V(checkpoint_disks) records which disk a
        checkpoint refers to. V(volumes) lists the VM's volumes. V(deleted_checkpoint_properties) reads a checkpoint
        object after its delete. V(cluster_owner) resolves a clustered VM's owner.
    type: list
    elements: str
    choices: [restore_running_standard, restore_running_production, restore_off_standard, remove_saved_state,
              turn_off_automatic, checkpoint_default_name, production_fallback, merge_visibility, busy_error,
              checkpoint_disks, volumes, deleted_checkpoint_properties, cluster_owner]
notes:
  - The assumptions, their sources and what each experiment does are listed in docs/host-fidelity.md.
  - An assumption marked C(safe_either_way) is one the collection does not depend on; its scripts are written to be
    right under both behaviours, and the probe only settles which one the host has.
attributes:
  check_mode:
    description: In check mode the task is skipped; the experiments only make sense on the host.
    support: none
  diff_mode:
    description: No diff.
    support: none
seealso:
  - module: hyperv.checkpoint.hyperv_checkpoint
    description: The checkpoint operations whose assumptions this module checks.
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
"""

EXAMPLES = r"""
- name: Probe a Hyper-V host with a VM made for it
  hyperv.checkpoint.hyperv_host_probe:
    vm: probe01
  register: probe

- name: Show the assumptions the host does not meet
  ansible.builtin.debug:
    msg: "{{ probe.assumptions | selectattr('status', 'equalto', 'differs') | list }}"

- name: Only check what a restore does to the power state
  hyperv.checkpoint.hyperv_host_probe:
    vm: probe01
    experiments:
      - restore_running_standard
      - restore_off_standard
"""

RETURN = r"""
host:
  description: The Hyper-V host that answered, as M(hyperv.checkpoint.hyperv_checkpoint_info) reports it.
  returned: success
  type: dict
  sample:
    computer_name: HV01
    os_caption: Microsoft Windows Server 2022 Datacenter
    os_version: 10.0.20348
    supports_checkpoint_type: true
    supports_automatic_checkpoints: true
    time: "2026-12-03T08:40:12.0000000Z"
vm:
  description: The probed VM's C(id) and C(name).
  returned: success
  type: dict
  sample:
    id: 3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f
    name: probe01
observations:
  description: What the host did, per experiment, as the experiment recorded it (also on failure, for the
    experiments that ran).
  returned: always
  type: dict
  sample:
    restore_running_standard:
      checkpoint_state: Saved
      state_after_restore: Running
assumptions:
  description: One entry per assumption of the collection, with the observation that checks it.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The assumption.
      type: str
      sample: restore_restarts_a_running_vm
    experiment:
      description: The experiment that checks it.
      type: str
      sample: restore_running_standard
    observation:
      description: The observation of that experiment.
      type: str
      sample: state_after_restore
    expected:
      description: What the collection and its simulated host assume.
      type: raw
      sample: Running
    observed:
      description: What the host did; V(null) when the experiment could not tell on this host.
      type: raw
      sample: Running
    status:
      description: C(as_assumed), C(differs), or C(not_observed) (for example no production checkpoint possible on
        the VM, or no automatic checkpoints on the host).
      type: str
      sample: as_assumed
    safe_either_way:
      description: Whether the collection's scripts are right under both behaviours.
      type: bool
      sample: true
    source:
      description: Where the assumption comes from.
      type: str
      sample: decompiled Hyper-V module, Commands/RestoreVMSnapshot.cs
differences:
  description: The ids of the assumptions the host does not meet.
  returned: success
  type: list
  elements: str
  sample: []
hyperv_node:
  description:
    - The inventory name of the Hyper-V host the experiments ran on, the host the task is delegated to (the probe
      never follows a VM to another cluster node).
  returned: when the task reached a Hyper-V host
  type: str
  sample: hv01
error_code:
  description: A stable code for the failure, as in M(hyperv.checkpoint.hyperv_checkpoint), plus
    C(vm_has_checkpoints).
  returned: failure
  type: str
  sample: vm_has_checkpoints
error_details:
  description: Details of the failure.
  returned: failure
  type: dict
  sample: {}
"""
