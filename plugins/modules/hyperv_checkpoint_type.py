#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the module; the action plugin
# plugins/action/hyperv_checkpoint_type.py does the work on the controller.

DOCUMENTATION = r"""
---
module: hyperv_checkpoint_type
short_description: Set the checkpoint type, automatic checkpoints and checkpoint location of Hyper-V VMs
version_added: 0.1.0
description:
  - Sets the checkpoint settings of one or more virtual machines on a Hyper-V host, like
    C(Set-VM -CheckpointType), C(Set-VM -AutomaticCheckpointsEnabled) and C(Set-VM -SnapshotFileLocation).
  - Only the settings given are managed; a setting that is left out keeps its value.
  - Idempotent. A setting that already has the wanted value is not changed, and the task only reports
    C(changed) when at least one VM's settings change.
  - All addressed VMs are read in one round trip to the host and all changes are sent in one more,
    whatever the number of VMs. The result has one entry per VM with its settings before and after the task.
  - Settings the host's Windows version does not have are refused for all VMs before anything is changed
    (checkpoint types need Windows Server 2016 or later, automatic checkpoints Windows Server 2019 or later).
    The failure names the host's Windows version.
  - The checkpoint type can be changed while the VM is running. The new type applies to checkpoints taken
    after the change; existing checkpoints keep the kind they were taken as (standard checkpoints with the
    memory state, production checkpoints without it). Hyper-V leaves a VM Off after restoring a production
    checkpoint, as if it had been shut down, because a production checkpoint has no memory state
    (M(hyperv.checkpoint.hyperv_checkpoint) with C(state=restored) starts it again by default when it was running).
extends_documentation_fragment: [hyperv.checkpoint._hyperv_host, hyperv.checkpoint._hyperv_host.follow]
options:
  vm:
    description:
      - Names of the VMs to change.
      - Cannot be combined with O(all_vms=true). One of O(vm), O(vm_id) or O(all_vms=true) is required.
    type: list
    elements: str
  vm_id:
    description:
      - Ids (GUIDs) of the VMs to change, compared case-insensitively.
      - Can be combined with O(vm). Cannot be combined with O(all_vms=true).
    type: list
    elements: str
  all_vms:
    description:
      - Change every VM on the host.
      - Cannot be V(true) together with O(vm) or O(vm_id); an explicit V(false) next to them is fine.
    type: bool
    default: false
  checkpoint_type:
    description:
      - The kind of checkpoint Hyper-V takes for the VM from now on. The host's spelling (V(ProductionOnly),
        V(Production), V(Standard), V(Disabled), in any case) is accepted too, so a value read from a result or from the
        inventory variable C(hyperv_checkpoint_type) can be given back.
      - V(standard) takes standard checkpoints, which include the memory state of a running VM.
      - V(production) takes production checkpoints (VSS in Windows guests, a file-system freeze in Linux guests)
        and falls back to a standard checkpoint when the guest cannot take one.
      - V(production_only) takes production checkpoints and fails when the guest cannot take one.
      - V(disabled) blocks the creation of checkpoints.
      - Leave it out to keep the VM's checkpoint type.
      - Needs Windows Server 2016 or later on the Hyper-V host.
    type: str
    choices: [standard, production, production_only, disabled]
  automatic_checkpoints:
    description:
      - Whether Hyper-V takes a checkpoint automatically when the VM starts (and removes it when the VM
        shuts down cleanly).
      - Leave it out to keep the VM's setting.
      - Needs Windows Server 2019 or later on the Hyper-V host.
    type: bool
  checkpoint_location:
    description:
      - The folder for the VM's checkpoint configuration and saved-state files (the VM's C(SnapshotFileLocation)).
      - Compared case-insensitively, and a trailing backslash does not count, so V(D:\\Checkpoints\\) equals
        V(d:\\checkpoints).
      - Can only change while the VM has no checkpoints; otherwise the task fails with
        C(checkpoint_location_in_use) and changes nothing.
      - Must not be empty. Leave it out to keep the VM's location.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - In check mode the VMs are read and the planned settings are returned as RV(vms[].after); nothing is set.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff has the settings of each changed VM, keyed by the VM's name (with its id added when
        several VMs share the name), before and after the task.
notes:
  - A single string given for O(vm) or O(vm_id) is one entry, even when it contains commas.
  - One of O(checkpoint_type), O(automatic_checkpoints) and O(checkpoint_location) is required.
  - When the play targets the guests, give the task C(run_once) next to C(delegate_to), as in the examples, so that
    it runs once for all the VMs it names.
  - The checkpoint location can only change while the VM has no checkpoints (of any kind, including
    recovery and replica checkpoints).
  - Checkpoint locations are compared case-insensitively, as Windows paths are.
  - Changing the checkpoint type does not convert existing checkpoints.
seealso:
  - module: hyperv.checkpoint.hyperv_checkpoint
  - module: hyperv.checkpoint.hyperv_checkpoint_info
  - name: Choose between standard or production checkpoints in Hyper-V
    description: Microsoft's explanation of the checkpoint types.
    link: https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/manage/choose-between-standard-or-production-checkpoints-in-hyper-v
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
"""

EXAMPLES = r"""
# Patch-window setup: databases must never get a crash-consistent (standard) checkpoint,
# test VMs get standard checkpoints (with memory state) for a quick revert.
- name: Databases take production checkpoints only
  hyperv.checkpoint.hyperv_checkpoint_type:
    vm:
      - db01
      - db02
    checkpoint_type: production_only
  delegate_to: hv01.example.com
  run_once: true

- name: Test VMs take standard checkpoints
  hyperv.checkpoint.hyperv_checkpoint_type:
    vm: "{{ groups['test_vms'] }}"
    checkpoint_type: standard
  delegate_to: hv01.example.com
  run_once: true

- name: Disable automatic checkpoints on every VM of the host (Windows Server 2019 or later)
  hyperv.checkpoint.hyperv_checkpoint_type:
    all_vms: true
    automatic_checkpoints: false
  delegate_to: hv01.example.com
  run_once: true

- name: Every VM of the host takes production checkpoints with fallback to standard
  hyperv.checkpoint.hyperv_checkpoint_type:
    all_vms: true
    checkpoint_type: production
  delegate_to: hv01.example.com
  run_once: true

- name: Show what would change, without changing anything
  hyperv.checkpoint.hyperv_checkpoint_type:
    vm: [db01, web01]
    checkpoint_type: production_only
    automatic_checkpoints: false
  check_mode: true
  diff: true
  delegate_to: hv01.example.com
  run_once: true
  register: planned

- name: List the VMs that would change
  ansible.builtin.debug:
    msg: "{{ planned.vms | selectattr('changed') | map(attribute='name') | list }}"
  run_once: true

- name: Address a VM by its id (for example when two VMs share a name)
  hyperv.checkpoint.hyperv_checkpoint_type:
    vm_id:
      - 6f2a1c1e-7d3b-4c2a-9a51-0d3c8e4b1f27
    checkpoint_type: production
  delegate_to: hv01.example.com
  run_once: true

- name: Keep the checkpoint files of a new VM on a separate volume (the VM must not have checkpoints yet)
  hyperv.checkpoint.hyperv_checkpoint_type:
    vm: app03
    checkpoint_location: 'D:\Hyper-V\Checkpoints'
  delegate_to: hv01.example.com
  run_once: true

- name: Block checkpoints of a VM during a migration
  hyperv.checkpoint.hyperv_checkpoint_type:
    vm: legacy01
    checkpoint_type: disabled
  delegate_to: hv01.example.com
  run_once: true
"""

RETURN = r"""
changed:
  description: Whether the settings of at least one VM changed (in check mode, would change).
  returned: always
  type: bool
  sample: true
vms:
  description:
    - One entry per addressed VM, in the order given (with O(all_vms=true), ordered by name).
    - The checkpoint types are the host's values C(Standard), C(Production), C(ProductionOnly) and C(Disabled),
      as hyperv.checkpoint.hyperv_checkpoint_info returns them, and beside each the options' spelling
      (C(checkpoint_type_option)).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The VM's name.
      type: str
      returned: always
      sample: db01
    id:
      description: The VM's id (GUID, lower case).
      type: str
      returned: always
      sample: 6f2a1c1e-7d3b-4c2a-9a51-0d3c8e4b1f27
    state:
      description: The VM's state when it was read (C(Running), C(Off), C(Saved), C(Paused), ...).
      type: str
      returned: always
      sample: Running
    changed:
      description: Whether this VM's settings changed (in check mode, would change).
      type: bool
      returned: always
      sample: true
    before:
      description: The VM's checkpoint settings before the task.
      type: dict
      returned: always
      contains:
        checkpoint_type:
          description: C(Standard), C(Production), C(ProductionOnly) or C(Disabled); null on hosts without checkpoint types.
          type: str
          sample: Production
        checkpoint_type_option:
          description: The same type as the options spell it (C(standard), C(production), C(production_only),
            C(disabled)); null on hosts without checkpoint types.
          type: str
          sample: production
          version_added: 0.2.0
        automatic_checkpoints:
          description: Whether automatic checkpoints are on; null on hosts without automatic checkpoints.
          type: bool
          sample: true
        checkpoint_location:
          description: The folder of the VM's checkpoint files.
          type: str
          sample: C:\ProgramData\Microsoft\Windows\Hyper-V
    after:
      description:
        - The VM's checkpoint settings after the task, with the keys of RV(vms[].before), as the host reports them
          after the change. In check mode, the settings the task would set.
      type: dict
      returned: always
      sample:
        checkpoint_type: ProductionOnly
        checkpoint_type_option: production_only
        automatic_checkpoints: false
        checkpoint_location: C:\ProgramData\Microsoft\Windows\Hyper-V
hyperv_node:
  description:
    - The inventory name of the Hyper-V host the operations ran on, the host the task is delegated to or the
      cluster node the task followed the VM to (O(follow_vm)).
  returned: when the task reached a Hyper-V host
  type: str
  sample: hv02
  version_added: 0.2.0
error_code:
  description:
    - A stable code for the failure, for example C(vm_not_found), C(ambiguous), C(unsupported_on_host),
      C(checkpoint_location_in_use), C(invalid_option), C(timeout) or C(host_error) (an access denied
      on the host is a C(host_error) with the host's message).
    - C(owned_by_other_node) (a VM runs on a cluster node the task did not follow it to), C(migrating) (a live
      migration that did not end in time) and C(cluster_unreadable) (the user may not read the failover cluster).
    - C(unsupported_connection) when the task's connection cannot run Windows PowerShell (a POSIX shell, or
      C(ansible_connection=local) without C(delegate_to)); nothing is sent then.
  returned: failure
  type: str
  sample: unsupported_on_host
error_details:
  description: Details of the failure; for C(unsupported_on_host) the setting and the host's Windows version.
  returned: failure
  type: dict
  sample:
    setting: automatic_checkpoints
    os_caption: Microsoft Windows Server 2016 Datacenter
    os_version: 10.0.14393
"""
